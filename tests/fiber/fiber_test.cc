// Fibers and the fiber-aware Mutex, driven by a small executor on the test
// thread (the runtime's EventLoop is tested in tests/runtime/loop_test.cc).
#include "fiber/fiber.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fiber/mutex.h"

namespace taskcred::fiber {
namespace {

using namespace std::chrono_literals;

// Runs fibers on the thread that calls Drain(); Schedule() is thread-safe.
class TestExecutor : public Executor {
 public:
  Fiber* Start(std::function<void()> body) {
    fibers_.push_back(std::make_unique<Fiber>(this, std::move(body)));
    Schedule(fibers_.back().get());
    return fibers_.back().get();
  }
  void Schedule(Fiber* f) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back(f);
      ++scheduled_;
    }
    cv_.notify_all();
  }
  void ScheduleAfter(Fiber* f, std::chrono::nanoseconds delay) override {
    std::lock_guard<std::mutex> lock(mu_);
    timers_.push_back({std::chrono::steady_clock::now() + delay, f});
  }
  // Resumes ready fibers (and due timers) until every started fiber has
  // finished or `timeout` passes; true if all finished.
  bool Drain(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      Fiber* next = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
          auto now = std::chrono::steady_clock::now();
          for (auto it = timers_.begin(); it != timers_.end();) {
            if (it->first <= now) {
              ready_.push_back(it->second);
              it = timers_.erase(it);
            } else {
              ++it;
            }
          }
          if (!ready_.empty()) break;
          if (AllFinished()) return true;
          if (now >= deadline) return false;
          cv_.wait_for(lock, 1ms);
        }
        next = ready_.front();
        ready_.pop_front();
      }
      next->Resume();
    }
  }
  int scheduled() {
    std::lock_guard<std::mutex> lock(mu_);
    return scheduled_;
  }

 private:
  bool AllFinished() const {
    for (const auto& f : fibers_) {
      if (!f->finished()) return false;
    }
    return true;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Fiber*> ready_;
  std::vector<std::pair<std::chrono::steady_clock::time_point, Fiber*>> timers_;
  std::vector<std::unique_ptr<Fiber>> fibers_;
  int scheduled_ = 0;
};

TEST(FiberTest, RunsOnItsOwnStackAndKnowsItIsAFiber) {
  EXPECT_EQ(Current(), nullptr);
  TestExecutor ex;
  Fiber* seen = nullptr;
  int local_on_fiber_stack = 0;
  Fiber f(&ex, [&] {
    seen = Current();
    int probe = 0;
    // The fiber's frame lives on its own stack, far from the test thread's.
    local_on_fiber_stack = static_cast<int>(std::abs(reinterpret_cast<char*>(&probe) -
                                                     reinterpret_cast<char*>(&local_on_fiber_stack)) > (1 << 20));
  });
  EXPECT_TRUE(f.Resume());
  EXPECT_TRUE(f.finished());
  EXPECT_EQ(seen, &f);
  EXPECT_EQ(local_on_fiber_stack, 1);
  EXPECT_EQ(Current(), nullptr);
}

TEST(FiberTest, SuspendReturnsToTheResumerAndResumeContinues) {
  TestExecutor ex;
  std::vector<std::string> log;
  Fiber f(&ex, [&] {
    log.push_back("a");
    Suspend();
    log.push_back("b");
    Suspend();
    log.push_back("c");
  });
  EXPECT_FALSE(f.Resume());
  log.push_back("1");
  EXPECT_FALSE(f.Resume());
  log.push_back("2");
  EXPECT_TRUE(f.Resume());
  EXPECT_EQ(log, (std::vector<std::string>{"a", "1", "b", "2", "c"}));
}

TEST(FiberTest, ExceptionsAreThrownAndCaughtOnTheFiberStack) {
  TestExecutor ex;
  std::string caught;
  Fiber f(&ex, [&] {
    try {
      Suspend();
      throw std::runtime_error("inside");
    } catch (const std::exception& e) {
      caught = e.what();
    }
  });
  EXPECT_FALSE(f.Resume());
  EXPECT_TRUE(f.Resume());
  EXPECT_EQ(caught, "inside");
}

int Recurse(int depth) {
  volatile char pad[256];
  pad[0] = static_cast<char>(depth);
  return depth == 0 ? pad[0] : Recurse(depth - 1) + 1 + pad[0] * 0;
}

TEST(FiberTest, StackHoldsDeepRecursionAndIsReusedAfterwards) {
  TestExecutor ex;
  int result = -1;
  // Half the stack in frames: well inside it in every build.
  const int depth = static_cast<int>(Fiber::StackSize() / 2 / 512);
  char* f_frame = nullptr;
  char* g_frame = nullptr;
  Fiber f(&ex, [&] {
    char probe = 0;
    f_frame = &probe;
    result = Recurse(depth);
  });
  EXPECT_TRUE(f.Resume());
  EXPECT_EQ(result, depth);
  const size_t pooled = PooledStacksForTest();
  EXPECT_GE(pooled, 1u);  // the finished fiber's stack went back to the pool
  Fiber g(&ex, [&] {
    char probe = 0;
    g_frame = &probe;
  });
  EXPECT_TRUE(g.Resume());
  EXPECT_EQ(PooledStacksForTest(), pooled);  // taken and given back
  // The next fiber ran on that same (most recently pooled) stack.
  EXPECT_LT(std::abs(f_frame - g_frame), static_cast<std::ptrdiff_t>(Fiber::StackSize()));
}

TEST(FiberTest, SleepForSuspendsOnAFiberAndSleepsOnAThread) {
  TestExecutor ex;
  auto t0 = std::chrono::steady_clock::now();
  SleepFor(20ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  std::vector<int> order;
  ex.Start([&] {
    SleepFor(30ms);
    order.push_back(1);
  });
  ex.Start([&] { order.push_back(2); });
  ASSERT_TRUE(ex.Drain());
  EXPECT_EQ(order, (std::vector<int>{2, 1}));  // the sleeper did not hold up the other fiber
}

TEST(MutexTest, ContendedLockSuspendsTheFiberNotTheThread) {
  TestExecutor ex;
  Mutex mu;
  std::vector<std::string> log;
  ex.Start([&] {
    std::lock_guard<Mutex> lock(mu);
    log.push_back("a locked");
    SleepFor(20ms);  // holds the lock across a suspension, like a storage call
    log.push_back("a unlocks");
  });
  ex.Start([&] {
    log.push_back("b waits");
    std::lock_guard<Mutex> lock(mu);
    log.push_back("b locked");
  });
  ex.Start([&] { log.push_back("c runs"); });
  ASSERT_TRUE(ex.Drain());
  EXPECT_EQ(log, (std::vector<std::string>{"a locked", "b waits", "c runs", "a unlocks", "b locked"}));
}

TEST(MutexTest, WaitersGetTheLockInArrivalOrder) {
  TestExecutor ex;
  Mutex mu;
  std::vector<int> order;
  ex.Start([&] {
    mu.lock();
    SleepFor(10ms);
    mu.unlock();
  });
  for (int i = 1; i <= 4; ++i) {
    ex.Start([&, i] {
      std::lock_guard<Mutex> lock(mu);
      order.push_back(i);
    });
  }
  ASSERT_TRUE(ex.Drain());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

TEST(MutexTest, ThreadsAndFibersShareOneMutex) {
  TestExecutor ex;
  Mutex mu;
  int counter = 0;
  mu.lock();  // the test thread holds it
  std::atomic<bool> fiber_done{false};
  ex.Start([&] {
    std::lock_guard<Mutex> lock(mu);  // suspends: the test thread holds the lock
    ++counter;
    fiber_done = true;
  });
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    mu.unlock();  // hands the lock to the fiber and schedules it from this thread
  });
  ASSERT_TRUE(ex.Drain());
  releaser.join();
  EXPECT_TRUE(fiber_done);
  // And a plain thread blocks (it is not a fiber) until the lock is free.
  std::thread other([&] {
    std::lock_guard<Mutex> lock(mu);
    ++counter;
  });
  other.join();
  EXPECT_EQ(counter, 2);
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
}

TEST(MutexTest, ManyThreadsCountExactly) {
  Mutex mu;
  int64_t counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::lock_guard<Mutex> lock(mu);
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 80000);
}

}  // namespace
}  // namespace taskcred::fiber
