#include "runtime/loop.h"

namespace taskcred::runtime {
namespace {

thread_local EventLoop* t_loop = nullptr;

// Resumes a fiber when its operation completes.
class FiberWake final : public Completion {
 public:
  explicit FiberWake(fiber::Fiber* f, int pending = 1) : fiber_(f), pending_(pending) {}
  void Done(bool ok) override {
    ok_ = ok;
    if (--pending_ == 0) EventLoop::Current()->Resume(fiber_);
  }
  bool ok() const { return ok_; }

 private:
  fiber::Fiber* fiber_;
  int pending_;
  bool ok_ = false;
};

// Resumes a fiber when its alarm fires, then frees itself.
class TimerWake final : public Completion {
 public:
  explicit TimerWake(fiber::Fiber* f) : fiber_(f) {}
  grpc::Alarm alarm;
  void Done(bool) override {
    fiber::Fiber* f = fiber_;
    delete this;
    EventLoop::Current()->Resume(f);
  }

 private:
  fiber::Fiber* fiber_;
};

}  // namespace

EventLoop::EventLoop(std::unique_ptr<grpc::ServerCompletionQueue> cq) : cq_(std::move(cq)) {}

EventLoop::~EventLoop() = default;

EventLoop* EventLoop::Current() { return t_loop; }

void EventLoop::Run() {
  t_loop = this;
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) {
    static_cast<Completion*>(tag)->Done(ok);
    RunReady();
  }
  t_loop = nullptr;
}

void EventLoop::Shutdown() { cq_->Shutdown(); }

void EventLoop::Spawn(std::function<void()> body) {
  Resume(new fiber::Fiber(this, std::move(body)));
}

void EventLoop::Post(std::function<void()> body) {
  Schedule(new fiber::Fiber(this, std::move(body)));
}

void EventLoop::Resume(fiber::Fiber* f) {
  if (f->Resume()) delete f;
}

void EventLoop::Schedule(fiber::Fiber* f) {
  if (t_loop == this) {
    ready_.push_back(f);
    return;
  }
  std::lock_guard<std::mutex> lock(remote_mu_);
  remote_.push_back(f);
  if (!wake_armed_) {
    wake_armed_ = true;
    wake_alarm_.Set(cq_.get(), gpr_now(GPR_CLOCK_MONOTONIC), wake_.tag());
  }
}

void EventLoop::ScheduleAfter(fiber::Fiber* f, std::chrono::nanoseconds delay) {
  auto* wake = new TimerWake(f);
  wake->alarm.Set(cq_.get(), std::chrono::system_clock::now() + delay, wake->tag());
}

void EventLoop::Wake::Done(bool) {
  std::vector<fiber::Fiber*> batch;
  {
    std::lock_guard<std::mutex> lock(loop_->remote_mu_);
    batch.swap(loop_->remote_);
    loop_->wake_armed_ = false;
  }
  for (fiber::Fiber* f : batch) loop_->ready_.push_back(f);
}

void EventLoop::RunReady() {
  while (!ready_.empty()) {
    fiber::Fiber* f = ready_.front();
    ready_.pop_front();
    Resume(f);
  }
}

bool Await(const std::function<void(void* tag)>& start) {
  FiberWake wake(fiber::Current());
  start(wake.tag());
  fiber::Suspend();
  return wake.ok();
}

void AwaitAll(int n, const std::function<void(void* tag)>& start) {
  FiberWake wake(fiber::Current(), n);
  start(wake.tag());
  fiber::Suspend();
}

bool Sleeper::SleepUntil(std::unique_lock<std::mutex>& lock,
                         std::optional<std::chrono::system_clock::time_point> deadline) {
  bool fired = Await([&](void* tag) {
    if (deadline) {
      alarm_.Set(EventLoop::Current()->cq(), *deadline, tag);
    } else {
      alarm_.Set(EventLoop::Current()->cq(), gpr_inf_future(GPR_CLOCK_MONOTONIC), tag);
    }
    lock.unlock();
  });
  return !fired;
}

}  // namespace taskcred::runtime
