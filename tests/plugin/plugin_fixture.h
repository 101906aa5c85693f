// PluginSuite: a gtest fixture that runs the REAL taskcred binary under the
// host harness (tests/harness/plugin_host.h), one plugin process and one
// mount per test suite (SetUpTestSuite), and checks secret hygiene of the
// plugin's stderr when the suite ends: no issued credential, no opaque token
// and no private key PEM may ever appear in a log line.
//
//   class MyTest : public PluginSuite {};
//   TEST_F(MyTest, X) { auto r = Call("update", "config", {{"issuer", "x"}}); ... }
//
// Tests of one suite share the mount: each test uses its own role names.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/plugin_host.h"
#include "harness/secrets.h"

namespace taskcred::test {

// A storage snapshot: key -> value.
using StorageImage = std::map<std::string, std::string>;

// One HandleRequest on `mount` as an authenticated client of "taskcred/"; the
// RPC itself must succeed (fails the test otherwise).
RequestResult CallMount(Mount& mount, const std::string& op, const std::string& path, nlohmann::json data,
                        const std::string& entity_id);

class PluginSuite : public ::testing::Test {
 public:
  // Starts the plugin and sets up + initializes one mount.
  static void SetUpTestSuite();
  // Shuts the plugin down, then asserts no recorded secret reached stderr.
  static void TearDownTestSuite();

  static Mount& mount();
  static PluginHost& host();

  // One HandleRequest; the RPC itself must succeed (fails the test otherwise).
  static RequestResult Call(const std::string& op, const std::string& path,
                            nlohmann::json data = nullptr, const std::string& entity_id = "");
  // Like Call but the response data must be a 200/204; returns data.
  static nlohmann::json Ok(const std::string& op, const std::string& path, nlohmann::json data = nullptr,
                           const std::string& entity_id = "");
  // Issues a credential (read when params is null, update otherwise), expects
  // 200 and records the credential as a secret that must never be logged.
  static RequestResult Issue(const std::string& path, nlohmann::json params = nullptr,
                             const std::string& entity_id = "");
  // Revoke/renew through the secret's internal data, as Vault does.
  static RequestResult SecretOp(const std::string& op, const RequestResult& issued);

  // Vault's existence check for an update of `path`: "exists", "absent",
  // "no check" (the path has none) or "rpc error".
  static std::string Exists(const std::string& path);

  // Decodes a raw HTTP response body (http_raw_body: base64 JSON).
  static nlohmann::json RawBody(const RequestResult& r);

  // Storage as key -> value.
  static StorageImage Image();

  // Two more mounts of the suite's plugin over one new storage, the first
  // initialized: an active node and a performance standby (or a second
  // mount). Null mounts (and a test failure) if setting up fails.
  struct SharedMounts {
    std::shared_ptr<FakeStorage> storage;
    Mount* active = nullptr;
    Mount* standby = nullptr;
  };
  static SharedMounts MountsOnOneStorage();
  // Another plugin process (another node, or the plugin restarted) with one
  // mount over `storage`; null host (and a test failure) if it fails.
  struct OtherPlugin {
    std::unique_ptr<PluginHost> host;
    Mount* mount = nullptr;
  };
  static OtherPlugin StartOnStorage(std::shared_ptr<FakeStorage> storage);
  // Runs `n` threads that each call `fn(i)` once, all released together.
  static void RunTogether(int n, const std::function<void(int)>& fn);

  // Remembers a string that must never appear in the plugin's stderr.
  static void RecordSecret(const std::string& secret);
  // Waits (bounded) for a log line whose @message is `message` and for which
  // `pred` holds; returns it, or null JSON.
  static nlohmann::json WaitForLog(const std::string& message,
                                   const std::function<bool(const nlohmann::json&)>& pred,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  static std::unique_ptr<PluginHost>& host_ptr();
  static Mount*& mount_ptr();
  static std::mutex& secrets_mu();
  static std::vector<std::string>& secrets();
};

// The backup-job role of the design doc.
nlohmann::json BackupRole();

// Names the RFC 3339 / JSON expectations of 400 answers.
::testing::AssertionResult IsBadRequestNaming(const RequestResult& r, const std::string& field);

}  // namespace taskcred::test
