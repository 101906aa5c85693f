#include "fiber/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

#include <boost/context/detail/fcontext.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define TASKCRED_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TASKCRED_FIBER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TASKCRED_FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TASKCRED_FIBER_TSAN 1
#endif
#endif

#ifdef TASKCRED_FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef TASKCRED_FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace taskcred::fiber {
namespace {

namespace bc = boost::context::detail;

// Usable stack per fiber. Only the pages a request touches become resident;
// the rest is address space. Sanitizer builds need far more (ASan's
// redzones, TSan's frames).
#if defined(TASKCRED_FIBER_ASAN) || defined(TASKCRED_FIBER_TSAN)
constexpr size_t kStackSize = size_t{8} << 20;
#else
constexpr size_t kStackSize = size_t{512} << 10;
#endif
// Idle stacks a thread keeps (their touched pages stay resident); more are
// unmapped. About the number of requests in flight on one loop.
constexpr size_t kMaxPooled = 16;

struct Stack {
  char* base = nullptr;  // lowest address, the guard page
  size_t mapped = 0;
  char* bottom() const { return base + Page(); }
  char* top() const { return base + mapped; }
  static size_t Page() {
    static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return page;
  }
};

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "taskcred fiber: %s\n", what);
  std::abort();
}

class StackPool {
 public:
  ~StackPool() {
    for (Stack& s : idle_) munmap(s.base, s.mapped);
  }
  Stack Take() {
    if (!idle_.empty()) {
      Stack s = idle_.back();
      idle_.pop_back();
      return s;
    }
    Stack s;
    s.mapped = kStackSize + Stack::Page();
    void* p = mmap(nullptr, s.mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
    if (p == MAP_FAILED) Die("cannot map a fiber stack");
    s.base = static_cast<char*>(p);
    // Guard page: an overflow faults instead of writing into a neighbour.
    if (mprotect(s.base, Stack::Page(), PROT_NONE) != 0) Die("cannot protect a fiber stack's guard page");
    return s;
  }
  void Give(Stack s) {
#ifdef TASKCRED_FIBER_ASAN
    // A finished fiber's last frames never returned, so their redzones are
    // still poisoned; the next fiber on this stack must not inherit them.
    __asan_unpoison_memory_region(s.bottom(), s.mapped - Stack::Page());
#endif
    if (idle_.size() < kMaxPooled) {
      idle_.push_back(s);
    } else {
      munmap(s.base, s.mapped);
    }
  }
  size_t idle() const { return idle_.size(); }

 private:
  std::vector<Stack> idle_;
};

thread_local StackPool t_pool;
thread_local Fiber* t_current = nullptr;

}  // namespace

namespace {
// A fiber's stack from the bounds it keeps for the sanitizers.
Stack StackOf(const void* bottom, size_t size) {
  Stack s;
  s.base = static_cast<char*>(const_cast<void*>(bottom)) - Stack::Page();
  s.mapped = size + Stack::Page();
  return s;
}
}  // namespace

Fiber::Fiber(Executor* home, std::function<void()> body) : home_(home), body_(std::move(body)) {}

Fiber::~Fiber() {
  if (started_ && !finished_) Die("a suspended fiber was destroyed");
#ifdef TASKCRED_FIBER_TSAN
  if (tsan_fiber_) __tsan_destroy_fiber(tsan_fiber_);
#endif
}

size_t Fiber::StackSize() { return kStackSize; }

bool Fiber::Resume() {
  if (t_current != nullptr) Die("Resume() called from inside a fiber");
  if (finished_) return true;
  if (!started_) {
    started_ = true;
    Stack s = t_pool.Take();
    stack_bottom_ = s.bottom();
    stack_size_ = kStackSize;
    context_ = bc::make_fcontext(s.top(), kStackSize, &Fiber::Trampoline);
#ifdef TASKCRED_FIBER_TSAN
    tsan_fiber_ = __tsan_create_fiber(0);
#endif
  }
  t_current = this;
#ifdef TASKCRED_FIBER_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, stack_bottom_, stack_size_);
#endif
#ifdef TASKCRED_FIBER_TSAN
  tsan_scheduler_ = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
  bc::transfer_t t = bc::jump_fcontext(context_, this);
#ifdef TASKCRED_FIBER_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  t_current = nullptr;
  context_ = t.fctx;
  if (finished_) {
    // Off the fiber's stack now: it can go back to the pool.
    t_pool.Give(StackOf(stack_bottom_, stack_size_));
    context_ = nullptr;
  }
  return finished_;
}

void Fiber::SwitchToScheduler() {
#ifdef TASKCRED_FIBER_ASAN
  void* fake_stack = nullptr;
  // A finished fiber never comes back: nullptr lets ASan free its fake stack.
  __sanitizer_start_switch_fiber(finished_ ? nullptr : &fake_stack, scheduler_bottom_, scheduler_size_);
#endif
#ifdef TASKCRED_FIBER_TSAN
  __tsan_switch_to_fiber(tsan_scheduler_, 0);
#endif
  bc::transfer_t t = bc::jump_fcontext(scheduler_, nullptr);
  // Resumed (never reached once finished).
  scheduler_ = t.fctx;
#ifdef TASKCRED_FIBER_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, &scheduler_bottom_, &scheduler_size_);
#endif
}

void Fiber::Trampoline(bc::transfer_t t) {
  Fiber* self = static_cast<Fiber*>(t.data);
  self->scheduler_ = t.fctx;
#ifdef TASKCRED_FIBER_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &self->scheduler_bottom_, &self->scheduler_size_);
#endif
  try {
    self->body_();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "taskcred fiber: uncaught exception: %s\n", e.what());
    std::abort();
  } catch (...) {
    Die("uncaught exception");
  }
  self->body_ = nullptr;  // its captures die here, on the fiber's stack
  self->finished_ = true;
  self->SwitchToScheduler();
  Die("a finished fiber was resumed");
}

Fiber* Current() { return t_current; }

void Suspend() {
  Fiber* self = t_current;
  if (self == nullptr) Die("Suspend() called outside a fiber");
  self->SwitchToScheduler();
}

void SleepFor(std::chrono::nanoseconds delay) {
  if (delay <= std::chrono::nanoseconds::zero()) return;
  Fiber* self = t_current;
  if (self == nullptr) {
    std::this_thread::sleep_for(delay);
    return;
  }
  self->home()->ScheduleAfter(self, delay);
  Suspend();
}

size_t PooledStacksForTest() { return t_pool.idle(); }

}  // namespace taskcred::fiber
