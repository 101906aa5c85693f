// Fibers: a request's code runs on a stack of its own and suspends, instead
// of blocking a thread, while it waits for a brokered call or a lock.
//
// The runtime's event loop resumes fibers when what they wait for arrives
// (docs/runtime.md explains why fibers and not C++20 coroutines). A fiber
// runs only on the thread of its home Executor; it never migrates. Code that
// may run on a fiber or on a plain thread (engine, framework, tests) asks
// Current(): blocking primitives here (Mutex) suspend on a fiber and block on
// a thread.
//
// Invariant every user keeps: each Suspend() is matched by exactly one
// resumption (Executor::Schedule, or a completion the executor turns into a
// Resume). Nothing here resumes a fiber spuriously.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

#include <boost/context/detail/fcontext.hpp>

namespace taskcred::fiber {

class Fiber;

// Where fibers run: an event loop owning one thread.
class Executor {
 public:
  virtual ~Executor() = default;
  // Resumes `f` (whose home this executor is) on the executor's thread soon.
  // Thread-safe; may be called while `f` is still running towards its
  // Suspend() (the resumption then waits for the suspension, since both
  // happen on the executor's one thread).
  virtual void Schedule(Fiber* f) = 0;
  // Resumes `f`, which is about to suspend, once `delay` has passed. Only
  // from `f` itself, on the executor's thread.
  virtual void ScheduleAfter(Fiber* f, std::chrono::nanoseconds delay) = 0;
};

class Fiber {
 public:
  // `body` runs on the fiber's own stack from the first Resume(). It must not
  // let an exception escape (the process terminates if one does).
  Fiber(Executor* home, std::function<void()> body);
  ~Fiber();  // only when finished or never started
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Runs the fiber until it suspends or its body returns; true once it has
  // returned. Only on the home executor's thread, never from inside a fiber.
  bool Resume();
  bool finished() const { return finished_; }
  Executor* home() const { return home_; }

  // Usable stack bytes per fiber (the guard page excluded).
  static size_t StackSize();

 private:
  friend void Suspend();
  [[noreturn]] static void Trampoline(boost::context::detail::transfer_t t);
  void SwitchToScheduler();

  Executor* home_;
  std::function<void()> body_;
  boost::context::detail::fcontext_t context_ = nullptr;    // the fiber, while suspended
  boost::context::detail::fcontext_t scheduler_ = nullptr;  // its resumer, while it runs
  bool started_ = false;
  bool finished_ = false;
  // Sanitizer bookkeeping (unused in plain builds).
  const void* stack_bottom_ = nullptr;
  size_t stack_size_ = 0;
  const void* scheduler_bottom_ = nullptr;
  size_t scheduler_size_ = 0;
  void* tsan_fiber_ = nullptr;
  void* tsan_scheduler_ = nullptr;
};

// The fiber running on this thread, or nullptr on a plain thread.
Fiber* Current();

// Suspends the current fiber until it is resumed. Only on a fiber.
void Suspend();

// Waits `delay`: on a fiber it suspends (its thread serves others), on a
// plain thread it sleeps.
void SleepFor(std::chrono::nanoseconds delay);

// Idle stacks kept for reuse by this thread (for tests and the bench).
size_t PooledStacksForTest();

}  // namespace taskcred::fiber
