// Mutex: a lock that may be held across a brokered storage call.
//
// On a fiber, a contended lock() suspends the fiber (its thread goes on
// serving other requests); on a plain thread it blocks like std::mutex. The
// lock is handed to waiters in arrival order (no barging), so a fiber that
// was woken owns it. Use std::mutex for short sections that never suspend;
// use this one when the section calls Storage or SystemView.
#pragma once

#include <condition_variable>
#include <mutex>

namespace taskcred::fiber {

class Fiber;

class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock();
  bool try_lock();
  void unlock();

 private:
  struct Waiter {
    Fiber* fiber = nullptr;                // a suspended fiber, or
    std::condition_variable* cv = nullptr;  // a blocked thread
    bool granted = false;
    Waiter* next = nullptr;
  };
  std::mutex mu_;
  bool locked_ = false;
  Waiter* head_ = nullptr;  // FIFO of waiters
  Waiter* tail_ = nullptr;
};

}  // namespace taskcred::fiber
