// EventLoop: one thread driving one gRPC completion queue. Every call the
// plugin serves runs on a fiber of the loop whose queue received it, and the
// brokered calls it makes (storage, system view) are started on that same
// queue: a request that waits for the host suspends its fiber, and the
// answer resumes it on the same thread. No request is handed to another
// thread. docs/runtime.md has the reasoning and the figures.
//
// Everything here is for the loop's own thread unless it says otherwise.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "fiber/fiber.h"

namespace taskcred::runtime {

// A completion-queue tag: what to do when an operation completes.
class Completion {
 public:
  virtual void Done(bool ok) = 0;
  void* tag() { return static_cast<void*>(this); }

 protected:
  ~Completion() = default;
};

class EventLoop final : public fiber::Executor {
 public:
  explicit EventLoop(std::unique_ptr<grpc::ServerCompletionQueue> cq);
  ~EventLoop() override;

  grpc::ServerCompletionQueue* cq() { return cq_.get(); }

  // Serves the queue until it is shut down and drained.
  void Run();
  // Shuts the queue down (any thread); Run() returns once it is drained.
  void Shutdown();

  // Runs `body` on a new fiber of this loop, at once (from the loop's thread).
  void Spawn(std::function<void()> body);
  // The same from any thread: the fiber starts on the loop's thread soon.
  void Post(std::function<void()> body);
  // Resumes `f` now; frees it once its body has returned.
  void Resume(fiber::Fiber* f);
  // fiber::Executor. Thread-safe: from another thread it wakes the loop.
  void Schedule(fiber::Fiber* f) override;
  void ScheduleAfter(fiber::Fiber* f, std::chrono::nanoseconds delay) override;

  // The loop running on this thread, or nullptr.
  static EventLoop* Current();
  // True on a fiber of a loop: brokered calls may suspend.
  static bool OnLoopFiber() { return Current() != nullptr && fiber::Current() != nullptr; }

 private:
  class Wake final : public Completion {
   public:
    explicit Wake(EventLoop* loop) : loop_(loop) {}
    void Done(bool ok) override;

   private:
    EventLoop* loop_;
  };
  void RunReady();

  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::deque<fiber::Fiber*> ready_;  // scheduled from this thread
  // Scheduled from other threads; `wake_` (an alarm due at once) tells the loop.
  std::mutex remote_mu_;
  std::vector<fiber::Fiber*> remote_;
  bool wake_armed_ = false;
  grpc::Alarm wake_alarm_;
  Wake wake_{this};
};

// On a loop fiber: `start(tag)` starts one operation on the loop's queue;
// suspends until it completes and returns its `ok`.
bool Await(const std::function<void(void* tag)>& start);

// On a loop fiber: `start(tag)` starts `n` operations that all complete on
// that one tag; suspends until every one has.
void AwaitAll(int n, const std::function<void(void* tag)>& start);

// A fiber's timed wait that another thread can cut short.
//
//   std::unique_lock lock(mu);      // the waker takes `mu` too
//   waiters.push_back(&sleeper);
//   bool woken = sleeper.SleepUntil(lock, deadline);  // unlocks `mu`
//
// Wake() may be called only under that same mutex and only while the
// sleeper is registered (the waker then unregisters it): that is what keeps
// the sleeper alive and its alarm set when Wake() runs.
class Sleeper {
 public:
  // On a loop fiber. Sets the alarm, releases `lock`, suspends. Returns true
  // if Wake() ended the sleep, false at the deadline (nullopt: none).
  bool SleepUntil(std::unique_lock<std::mutex>& lock,
                  std::optional<std::chrono::system_clock::time_point> deadline);
  void Wake() { alarm_.Cancel(); }

 private:
  grpc::Alarm alarm_;
};

}  // namespace taskcred::runtime
