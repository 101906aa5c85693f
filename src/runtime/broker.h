// Broker: ConnInfos the host sent on GRPCBroker/StartStream, by service id.
//
// The host may announce a brokered endpoint before or after the Setup that
// needs it; Take() waits for it (bounded). Each ConnInfo is single-use. Like
// go-plugin's GRPCBroker (grpc_broker.go timeoutWait), a ConnInfo nobody
// claims within `unclaimed_ttl` (5 s by default) of its arrival is dropped, so
// a host that announces endpoints the plugin never dials cannot grow the map.
// A second ConnInfo for an id still pending replaces the first.
// Thread-safe. On a loop fiber Take() suspends the fiber instead of blocking
// the loop's thread (the ConnInfo it waits for may arrive on that thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "goplugin/grpc_broker.pb.h"

namespace taskcred::runtime {

class Sleeper;

class Broker {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::chrono::milliseconds kUnclaimedTtl{5000};

  // `now` is injectable for tests (defaults to steady_clock::now).
  explicit Broker(std::chrono::milliseconds unclaimed_ttl = kUnclaimedTtl, Clock now = nullptr);

  // Stores `info` (stamped with its arrival time) and drops expired entries.
  void Put(const ::plugin::ConnInfo& info);
  // Removes and returns the ConnInfo for `id`, waiting up to `timeout`;
  // kUnavailable naming the id if no unexpired one arrives.
  common::Result<::plugin::ConnInfo> Take(uint32_t id, std::chrono::milliseconds timeout);
  // ConnInfos currently held (expired ones included until the next Put/Take).
  size_t PendingForTest();

 private:
  struct Entry {
    ::plugin::ConnInfo info;
    std::chrono::steady_clock::time_point arrived;
  };
  void DropExpiredLocked(std::chrono::steady_clock::time_point now);

  const std::chrono::milliseconds ttl_;
  const Clock now_;
  std::mutex mu_;
  std::condition_variable cv_;      // threads waiting in Take()
  std::vector<Sleeper*> sleepers_;        // fibers waiting in Take()
  std::map<uint32_t, Entry> pending_;
};

}  // namespace taskcred::runtime
