#include "runtime/broker.h"

namespace taskcred::runtime {

void Broker::Put(const ::plugin::ConnInfo& info) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_[info.service_id()] = info;
  }
  cv_.notify_all();
}

common::Result<::plugin::ConnInfo> Broker::Take(uint32_t id, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return pending_.count(id) > 0; })) {
    return common::Status::Unavailable("timeout waiting for the host's broker connection info for id " +
                                       std::to_string(id));
  }
  auto node = pending_.extract(id);
  return std::move(node.mapped());
}

}  // namespace taskcred::runtime
