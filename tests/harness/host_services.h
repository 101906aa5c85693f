// The services a Vault host serves to a plugin on a brokered connection:
// pb.Storage backed by an in-memory map (with fault injection) and
// pb.SystemView answering from a configurable value. BrokerServer runs both
// on a fresh unix socket, with the TLS mode of the main connection.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/status.h"
#include "sdk/logical/identity.pb.h"
#include "sdk/logical/plugin.pb.h"

namespace taskcred::test {

// Thread-safe in-memory pb.Storage state.
class FakeStorage {
 public:
  struct Entry {
    std::string value;
    bool seal_wrap = false;
  };

  // Plugin-visible operations (also usable directly by tests).
  std::optional<Entry> Get(const std::string& key) const;
  void Put(const std::string& key, Entry entry);
  void Delete(const std::string& key);
  // Immediate children of `prefix`; sub-folders end in '/'.
  std::vector<std::string> List(const std::string& prefix) const;
  std::map<std::string, Entry> Snapshot() const;
  size_t size() const;

  // Fault injection: the next `n` Get/Put/List/Delete calls answer with the
  // in-band error `message` (as the Go host does, in the reply's err field).
  void FailGets(int n, std::string message = "injected storage get failure");
  void FailPuts(int n, std::string message = "injected storage put failure");
  void FailLists(int n, std::string message = "injected storage list failure");
  void FailDeletes(int n, std::string message = "injected storage delete failure");
  // Only the n-th Put (1-based) from now answers with an in-band error; the
  // ones before and after it succeed. Cleared by FailPuts. True once it fired.
  void FailNthPut(int n, std::string message = "injected failure of a storage put");
  bool nth_put_failed() const;
  // Every storage RPC sleeps this long before answering (simulates a slow backend).
  void SetDelay(std::chrono::milliseconds delay);
  // A gate on one key: the plugin's Puts of `key` wait, before they are
  // applied, until ReleaseHeldPuts() (so a test can run another request
  // while one is between its checks and its write).
  void HoldPuts(const std::string& key);
  // True once a Put of the held key is waiting (false after `timeout`).
  bool WaitForHeldPut(std::chrono::milliseconds timeout);
  void ReleaseHeldPuts();
  // Used by the service: returns once a Put of `key` may be applied.
  void PassPutGate(const std::string& key);

  // Counters of served RPCs.
  int gets() const { return gets_; }
  int puts() const { return puts_; }
  int lists() const { return lists_; }
  int deletes() const { return deletes_; }

  // Time left until the deadline the plugin attached to the most recent
  // storage RPC (nullopt before any call; hours when it sent none).
  std::optional<std::chrono::milliseconds> last_deadline() const;
  void RecordDeadline(std::chrono::milliseconds left);

  // Used by the service: consumes one injected failure if any.
  std::optional<std::string> TakeFailure(char op);
  std::chrono::milliseconds delay() const;
  void Count(char op);

 private:
  mutable std::mutex mu_;
  std::map<std::string, Entry> data_;
  std::map<char, std::pair<int, std::string>> failures_;
  int nth_put_left_ = 0;  // Puts to let through before the one that fails; 0 = off
  std::string nth_put_message_;
  bool nth_put_failed_ = false;
  std::chrono::milliseconds delay_{0};
  std::condition_variable gate_cv_;
  std::optional<std::string> held_key_;
  int held_waiting_ = 0;
  std::optional<std::chrono::milliseconds> last_deadline_;
  std::atomic<int> gets_{0}, puts_{0}, lists_{0}, deletes_{0};
};

// What pb.SystemView answers. Durations in nanoseconds as on the wire.
struct SystemViewConfig {
  int64_t default_lease_ttl_ns = 768LL * 3600 * 1000000000;  // Vault's 32 days
  int64_t max_lease_ttl_ns = 768LL * 3600 * 1000000000;
  bool tainted = false;
  bool caching_disabled = false;
  int32_t replication_state = 0;
  bool mlock_enabled = false;
  bool local_mount = false;
  // Entities by id (EntityInfo for an unknown id answers an empty reply).
  std::map<std::string, ::logical::Entity> entities;
  std::map<std::string, std::vector<::logical::Group>> groups;
  ::logical::PluginEnvironment plugin_env;
  std::string cluster_name = "harness-cluster";
  std::string cluster_id = "00000000-0000-4000-8000-000000000001";
};

class FakeSystemView {
 public:
  SystemViewConfig Get() const;
  void Set(SystemViewConfig config);
  int calls() const { return calls_; }
  void Count() { ++calls_; }

 private:
  mutable std::mutex mu_;
  SystemViewConfig config_;
  std::atomic<int> calls_{0};
};

// TLS material of the host side of a connection.
struct HostTls {
  bool enabled = false;
  std::string cert_pem, key_pem;  // the host's identity
  std::string peer_root_pem;      // the only trusted peer certificate
};

// A gRPC server on a fresh unix socket serving Storage + SystemView, like
// go-plugin's GRPCBroker.AcceptAndServe on the host. Unlimited message sizes.
class BrokerServer {
 public:
  static common::Result<std::unique_ptr<BrokerServer>> Start(std::shared_ptr<FakeStorage> storage,
                                                             std::shared_ptr<FakeSystemView> system_view,
                                                             const HostTls& tls);
  ~BrokerServer();
  const std::string& socket_path() const { return socket_path_; }
  void Stop();

 private:
  BrokerServer() = default;
  struct Services;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  std::string dir_, socket_path_;
};

}  // namespace taskcred::test
