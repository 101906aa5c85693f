#include "runtime/broker.h"

#include <utility>

#include "runtime/loop.h"

namespace taskcred::runtime {

Broker::Broker(std::chrono::milliseconds unclaimed_ttl, Clock now)
    : ttl_(unclaimed_ttl), now_(now ? std::move(now) : Clock([] { return std::chrono::steady_clock::now(); })) {}

void Broker::DropExpiredLocked(std::chrono::steady_clock::time_point now) {
  std::erase_if(pending_, [&](const auto& kv) { return now - kv.second.arrived >= ttl_; });
}

void Broker::Put(const ::plugin::ConnInfo& info) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = now_();
    DropExpiredLocked(now);
    pending_[info.service_id()] = Entry{info, now};
    for (Sleeper* s : sleepers_) s->Wake();
    sleepers_.clear();
  }
  cv_.notify_all();
}

common::Result<::plugin::ConnInfo> Broker::Take(uint32_t id, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto fresh = [&] {
    DropExpiredLocked(now_());
    return pending_.count(id) > 0;
  };
  bool found = false;
  if (EventLoop::OnLoopFiber()) {
    const auto deadline = std::chrono::system_clock::now() + timeout;
    while (!(found = fresh()) && std::chrono::system_clock::now() < deadline) {
      Sleeper sleeper;
      sleepers_.push_back(&sleeper);
      sleeper.SleepUntil(lock, deadline);
      lock.lock();
      std::erase(sleepers_, &sleeper);  // still listed if the deadline ended the sleep
    }
  } else {
    found = cv_.wait_for(lock, timeout, fresh);
  }
  if (!found) {
    return common::Status::Unavailable("timeout waiting for the host's broker connection info for id " +
                                       std::to_string(id));
  }
  auto node = pending_.extract(id);
  return std::move(node.mapped().info);
}

size_t Broker::PendingForTest() {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

}  // namespace taskcred::runtime
