// SharedAnswer: one brokered question that many requests ask at the same
// moment, asked once per wave instead of once per request.
//
// The answer a caller gets is as fresh as its own call would have been: it
// comes from a call that was *started after the caller arrived*. A caller
// that arrives while a call is in flight does not take that call's answer
// (the host may have computed it before a change the caller must see, e.g. a
// `vault secrets tune` that finished just before the caller's request); it
// waits for the next call, which it shares with everyone else who arrived
// during the first. So under load one call serves a wave of callers, and a
// lone caller costs exactly one call, as before.
//
// Callers queue on a fiber::Mutex: on a loop fiber the wait suspends the
// fiber (its loop goes on serving), on a plain thread it blocks. A failed
// call is not shared: the next caller in line asks again, under its own
// deadline. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>

#include "common/status.h"
#include "fiber/mutex.h"

namespace taskcred::runtime {

template <typename T>
class SharedAnswer {
 public:
  // `ask` makes the call; it runs on the caller's fiber or thread.
  template <typename Ask>
  common::Result<T> Get(Ask&& ask) {
    // Only a call numbered above every call started so far began after now.
    const uint64_t need = started_.load(std::memory_order_acquire) + 1;
    std::lock_guard<fiber::Mutex> turn(turn_);
    if (answered_ >= need) return answer_;
    const uint64_t call = started_.fetch_add(1, std::memory_order_acq_rel) + 1;
    common::Result<T> r = std::forward<Ask>(ask)();
    if (r.ok()) {
      answered_ = call;
      answer_ = *r;
    }
    return r;
  }

  // Calls made so far (for tests and figures).
  uint64_t calls() const { return started_.load(std::memory_order_acquire); }

 private:
  fiber::Mutex turn_;            // one call in flight at a time
  std::atomic<uint64_t> started_{0};  // calls started
  uint64_t answered_ = 0;        // the latest call that answered (under turn_)
  T answer_{};                   // its answer (under turn_)
};

}  // namespace taskcred::runtime
