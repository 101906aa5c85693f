// FaultTest: a gtest fixture for fault and secret-hygiene tests of the REAL
// taskcred binary under the host harness (tests/harness/plugin_host.h).
//
// Each test gets a fresh shared FakeStorage (storage()) and starts as many
// plugin processes as it needs (StartHost, e.g. to restart after a kill);
// every host stays alive until TearDown. TearDown shuts each host down (if it
// still runs) and checks secret hygiene over everything the test started:
//   - no recorded secret (issued credentials and their secret parts) and no
//     private key material of keys/ring ("PRIVATE KEY", PEM body lines) in
//     any plugin's stderr or stdout,
//   - no recorded secret in any storage value (opaque tokens only as hashes).
// Plugins run with VAULT_LOG_LEVEL=trace so every log line is produced.
//
//   class MyTest : public FaultTest {};
//   TEST_F(MyTest, X) {
//     Mount* m = StartMount();
//     Ok(*m, "create", "roles/r", JwtRole());
//     RequestResult cred = Issue(*m, "creds/r");
//   }
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/plugin_host.h"
#include "harness/secrets.h"

namespace taskcred::test {

// Storage as key -> value.
using StorageImage = std::map<std::string, std::string>;

// Vault's ProtoError err_type values (OB@HEAD sdk/plugin/pb/translation.go).
inline constexpr uint32_t kErrTypeInternal = 2;
inline constexpr uint32_t kErrTypeUnsupportedOperation = 5;
inline constexpr uint32_t kErrTypeUnsupportedPath = 6;
inline constexpr uint32_t kErrTypeInvalidRequest = 7;
inline constexpr uint32_t kErrTypeUnrecoverable = 10;

class FaultTest : public ::testing::Test {
 protected:
  void TearDown() override;

  FakeStorage& storage() { return *storage_; }
  const std::shared_ptr<FakeStorage>& shared_storage() { return storage_; }

  // Launches one more taskcred process (AutoMTLS, protocol 5, trace logs).
  PluginHost* StartHost();
  // Setup (+ Initialize unless `initialize` is false) of a mount over
  // storage() on `host`; fails the test (nullptr) on any error.
  Mount* SetupMount(PluginHost* host, bool initialize = true, const std::string& multiplex_id = "");
  // StartHost + SetupMount.
  Mount* StartMount();

  // One HandleRequest with mount_point taskcred/; the RPC must succeed.
  RequestResult Call(Mount& m, const std::string& op, const std::string& path, nlohmann::json data = nullptr,
                     std::chrono::milliseconds deadline = std::chrono::seconds(10));
  // Like Call, expecting HTTP 200/204; returns the data.
  nlohmann::json Ok(Mount& m, const std::string& op, const std::string& path, nlohmann::json data = nullptr);
  // Issues (read when params is null, else update), expects 200, records the
  // credential as a secret. Thread-safe.
  RequestResult Issue(Mount& m, const std::string& path, nlohmann::json params = nullptr);
  // Revoke/renew as Vault does, through the secret's internal data.
  RequestResult SecretOp(Mount& m, const std::string& op, const RequestResult& issued);
  // introspect of `token`; returns the data (expects HTTP 200; {} if none).
  nlohmann::json Introspect(Mount& m, const std::string& token);

  // The ids tasks/ lists (an empty array when the answer holds none).
  nlohmann::json ListedTasks(Mount& m, bool include_ended = false);

  // Remembers a string that must never reach a log or a storage value.
  void RecordSecret(const std::string& secret);
  // Remembers the credential of an issuance response (and its secret part).
  void RecordCredential(const RequestResult& issued);
  std::vector<std::string> Secrets();

  StorageImage Image() const;
  // Deletes every key of storage() (remembering the key material of
  // keys/ring for the log scan), for a test that needs a pristine mount.
  void WipeStorage();
  // Keys of storage() under `prefix` (recursive, full keys).
  std::vector<std::string> KeysUnder(const std::string& prefix) const;

  // Asserts that no recorded secret and no key material is in any log line
  // of any host started so far (called by TearDown; also usable mid-test).
  void ExpectCleanLogs();

 private:
  std::shared_ptr<FakeStorage> storage_ = std::make_shared<FakeStorage>();
  std::vector<std::unique_ptr<PluginHost>> hosts_;
  std::mutex secrets_mu_;
  std::vector<std::string> secrets_;
  std::vector<std::string> wiped_key_material_;
};

// A request as Vault sends it to this mount (mount_point taskcred/).
RequestSpec Spec(const std::string& op, const std::string& path, nlohmann::json data = nullptr,
                 std::chrono::milliseconds deadline = std::chrono::seconds(10));

// A JWT role over kv:// with a parameter, as the design's examples.
nlohmann::json JwtRole();
// An opaque renewable role.
nlohmann::json OpaqueRole();

// Fails exactly the n-th storage Put (1-based) from now on, counted by the
// host's storage itself (no timing involved). The destructor disarms it.
class NthPutFailure {
 public:
  NthPutFailure(FakeStorage& storage, int n) : storage_(storage) { storage_.FailNthPut(n); }
  ~NthPutFailure() { storage_.FailPuts(0); }
  NthPutFailure(const NthPutFailure&) = delete;
  NthPutFailure& operator=(const NthPutFailure&) = delete;
  // True once the n-th Put happened (and failed).
  bool armed() const { return storage_.nth_put_failed(); }

 private:
  FakeStorage& storage_;
};

// Polls `cond` every millisecond until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

}  // namespace taskcred::test
