// Broker: ConnInfos the host sent on GRPCBroker/StartStream, by service id.
//
// The host may announce a brokered endpoint before or after the Setup that
// needs it; Take() waits for it (bounded). Each ConnInfo is single-use.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "common/status.h"
#include "goplugin/grpc_broker.pb.h"

namespace taskcred::runtime {

class Broker {
 public:
  void Put(const ::plugin::ConnInfo& info);
  // Removes and returns the ConnInfo for `id`, waiting up to `timeout`;
  // kUnavailable naming the id if none arrives.
  common::Result<::plugin::ConnInfo> Take(uint32_t id, std::chrono::milliseconds timeout);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, ::plugin::ConnInfo> pending_;
};

}  // namespace taskcred::runtime
