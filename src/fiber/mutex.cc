#include "fiber/mutex.h"

#include "fiber/fiber.h"

namespace taskcred::fiber {

void Mutex::lock() {
  std::unique_lock<std::mutex> l(mu_);
  if (!locked_) {
    locked_ = true;
    return;
  }
  Waiter w;
  if (tail_ != nullptr) {
    tail_->next = &w;
  } else {
    head_ = &w;
  }
  tail_ = &w;
  if (Fiber* self = Current()) {
    w.fiber = self;
    l.unlock();
    Suspend();  // resumed by unlock(), which handed us the lock
    return;
  }
  std::condition_variable cv;
  w.cv = &cv;
  cv.wait(l, [&] { return w.granted; });
}

bool Mutex::try_lock() {
  std::lock_guard<std::mutex> l(mu_);
  if (locked_) return false;
  locked_ = true;
  return true;
}

void Mutex::unlock() {
  std::unique_lock<std::mutex> l(mu_);
  Waiter* w = head_;
  if (w == nullptr) {
    locked_ = false;
    return;
  }
  head_ = w->next;
  if (head_ == nullptr) tail_ = nullptr;
  // locked_ stays true: ownership passes to `w`.
  w->granted = true;
  if (w->cv != nullptr) {
    w->cv->notify_one();  // under mu_: the waiter (and its cv) cannot leave before we release it
    return;
  }
  Fiber* f = w->fiber;  // `w` lives on f's stack; do not touch it after this
  l.unlock();
  f->home()->Schedule(f);
}

}  // namespace taskcred::fiber
