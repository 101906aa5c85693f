// EventLoop: fibers on one completion-queue thread, woken by alarms, by
// other threads, and by the broker.
#include "runtime/loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fiber/mutex.h"
#include "runtime/broker.h"

namespace taskcred::runtime {
namespace {

using namespace std::chrono_literals;

// A server with no services and no ports: just its completion queue, served
// by an EventLoop on its own thread.
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    loop_ = std::make_unique<EventLoop>(builder.AddCompletionQueue());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    thread_ = std::thread([this] {
      loop_thread_ = std::this_thread::get_id();
      loop_->Run();
    });
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now());
    loop_->Shutdown();
    thread_.join();
  }
  // Runs `body` on a loop fiber and waits (bounded) until it has returned.
  void RunOnLoop(std::function<void()> body) {
    std::promise<void> done;
    auto f = done.get_future();
    loop_->Post([&] {
      body();
      done.set_value();
    });
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  }

  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<grpc::Server> server_;
  std::thread thread_;
  std::thread::id loop_thread_;
};

TEST_F(LoopTest, FibersRunOnTheLoopThread) {
  bool on_loop = false, on_fiber = false;
  std::thread::id id;
  RunOnLoop([&] {
    on_loop = EventLoop::Current() == loop_.get();
    on_fiber = EventLoop::OnLoopFiber();
    id = std::this_thread::get_id();
  });
  EXPECT_TRUE(on_loop);
  EXPECT_TRUE(on_fiber);
  EXPECT_EQ(id, loop_thread_);
  EXPECT_FALSE(EventLoop::OnLoopFiber());  // the test thread is neither
}

TEST_F(LoopTest, ASleepingFiberDoesNotHoldUpTheOthers) {
  std::mutex mu;
  std::vector<std::string> order;
  std::promise<void> slow_done;
  loop_->Post([&] {
    fiber::SleepFor(100ms);
    std::lock_guard<std::mutex> lock(mu);
    order.push_back("slow");
    slow_done.set_value();
  });
  RunOnLoop([&] {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back("fast");
  });
  ASSERT_EQ(slow_done.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(order, (std::vector<std::string>{"fast", "slow"}));
}

TEST_F(LoopTest, AwaitReturnsWhenTheOperationCompletes) {
  bool fired = false, cancelled = true;
  RunOnLoop([&] {
    grpc::Alarm alarm;
    fired = Await([&](void* tag) { alarm.Set(EventLoop::Current()->cq(), std::chrono::system_clock::now() + 5ms, tag); });
    grpc::Alarm second;
    cancelled = !Await([&](void* tag) {
      second.Set(EventLoop::Current()->cq(), std::chrono::system_clock::now() + 10s, tag);
      second.Cancel();
    });
  });
  EXPECT_TRUE(fired);
  EXPECT_TRUE(cancelled);
}

TEST_F(LoopTest, SleeperIsWokenFromAnotherThreadOrTimesOut) {
  std::mutex mu;
  std::vector<Sleeper*> waiting;
  std::promise<bool> woken;
  loop_->Post([&] {
    std::unique_lock<std::mutex> lock(mu);
    Sleeper s;
    waiting.push_back(&s);
    bool w = s.SleepUntil(lock, std::chrono::system_clock::now() + 10s);
    woken.set_value(w);
  });
  // Wake it from this thread once it sleeps.
  for (int i = 0; i < 1000; ++i) {
    std::lock_guard<std::mutex> lock(mu);
    if (!waiting.empty()) {
      waiting.front()->Wake();
      waiting.clear();
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  auto f = woken.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(f.get());

  bool timed_out_woken = true;
  auto t0 = std::chrono::steady_clock::now();
  RunOnLoop([&] {
    std::mutex m2;
    std::unique_lock<std::mutex> lock(m2);
    Sleeper s;
    timed_out_woken = s.SleepUntil(lock, std::chrono::system_clock::now() + 20ms);
  });
  EXPECT_FALSE(timed_out_woken);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
}

TEST_F(LoopTest, BrokerTakeSuspendsUntilAPutFromAnotherThread) {
  Broker broker;
  std::promise<std::string> taken;
  loop_->Post([&] {
    auto info = broker.Take(9, 10s);
    taken.set_value(info.ok() ? info->address() : info.status().message());
  });
  // The loop keeps serving while Take waits.
  bool other_ran = false;
  RunOnLoop([&] { other_ran = true; });
  EXPECT_TRUE(other_ran);
  ::plugin::ConnInfo info;
  info.set_service_id(9);
  info.set_network("unix");
  info.set_address("/tmp/nine");
  broker.Put(info);
  auto f = taken.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), "/tmp/nine");

  std::string timeout;
  RunOnLoop([&] {
    auto none = broker.Take(10, 30ms);
    timeout = none.ok() ? "ok" : none.status().message();
  });
  EXPECT_NE(timeout.find("id 10"), std::string::npos);
}

TEST_F(LoopTest, FiberMutexHeldAcrossASuspensionLetsOtherFibersRun) {
  fiber::Mutex mu;
  std::mutex log_mu;
  std::vector<std::string> log;
  auto note = [&](std::string s) {
    std::lock_guard<std::mutex> lock(log_mu);
    log.push_back(std::move(s));
  };
  std::promise<void> a_done, b_done;
  loop_->Post([&] {
    {
      std::lock_guard<fiber::Mutex> lock(mu);
      note("a locked");
      fiber::SleepFor(30ms);
      note("a unlocks");
    }
    a_done.set_value();  // after the unlock: the test may end (and `mu` go) once both are set
  });
  loop_->Post([&] {
    {
      std::lock_guard<fiber::Mutex> lock(mu);
      note("b locked");
    }
    b_done.set_value();
  });
  RunOnLoop([&] { note("c ran"); });
  ASSERT_EQ(a_done.get_future().wait_for(5s), std::future_status::ready);
  ASSERT_EQ(b_done.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(log, (std::vector<std::string>{"a locked", "c ran", "a unlocks", "b locked"}));
}

}  // namespace
}  // namespace taskcred::runtime
