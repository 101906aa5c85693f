#include "plugin_fixture.h"

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "crypto/encoding.h"

namespace taskcred::test {

using nlohmann::json;

std::unique_ptr<PluginHost>& PluginSuite::host_ptr() {
  static std::unique_ptr<PluginHost> host;
  return host;
}

Mount*& PluginSuite::mount_ptr() {
  static Mount* mount = nullptr;
  return mount;
}

std::mutex& PluginSuite::secrets_mu() {
  static std::mutex mu;
  return mu;
}

std::vector<std::string>& PluginSuite::secrets() {
  static std::vector<std::string> list;
  return list;
}

void PluginSuite::SetUpTestSuite() {
  HostOptions options;
  options.binary = TaskcredPluginPath();
  ASSERT_FALSE(options.binary.empty()) << "taskcred plugin path unknown";
  auto host = PluginHost::Start(options);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  host_ptr() = std::move(host).value();
  auto mount = host_ptr()->Setup({});
  ASSERT_TRUE(mount.ok()) << mount.status().ToString();
  ASSERT_TRUE((*mount)->setup().ok() && (*mount)->setup().reply.err().empty())
      << (*mount)->setup().reply.err();
  auto init = (*mount)->Initialize();
  ASSERT_TRUE(init.ok() && !init.reply.has_err()) << init.reply.err().err_msg();
  mount_ptr() = *mount;
}

void PluginSuite::TearDownTestSuite() {
  if (!host_ptr()) return;
  mount_ptr()->Cleanup();
  (void)host_ptr()->Shutdown();
  if (host_ptr()->WaitExit(std::chrono::seconds(5))) {
    host_ptr()->process().WaitOutputClosed();
  } else {
    ADD_FAILURE() << "plugin did not exit after Shutdown";
  }
  std::vector<LogLine> logs = host_ptr()->Logs();
  std::lock_guard<std::mutex> lock(secrets_mu());
  for (const LogLine& line : logs) {
    EXPECT_EQ(line.raw.find("PRIVATE KEY"), std::string::npos) << "private key PEM in the log: " << line.raw;
    for (const std::string& s : secrets()) {
      EXPECT_EQ(line.raw.find(s), std::string::npos) << "a credential reached the log: " << line.raw;
    }
  }
  secrets().clear();
  mount_ptr() = nullptr;
  host_ptr().reset();
}

Mount& PluginSuite::mount() { return *mount_ptr(); }
PluginHost& PluginSuite::host() { return *host_ptr(); }

RequestResult CallMount(Mount& mount, const std::string& op, const std::string& path, json data,
                        const std::string& entity_id) {
  RequestSpec spec;
  spec.operation = op;
  spec.path = path;
  spec.data = std::move(data);
  spec.entity_id = entity_id;
  spec.mount_point = "taskcred/";
  RequestResult r = mount.HandleRequest(spec);
  EXPECT_TRUE(r.status.ok()) << op << " " << path << ": " << r.status.error_message();
  return r;
}

RequestResult PluginSuite::Call(const std::string& op, const std::string& path, json data,
                                const std::string& entity_id) {
  return CallMount(mount(), op, path, std::move(data), entity_id);
}

json PluginSuite::Ok(const std::string& op, const std::string& path, json data, const std::string& entity_id) {
  RequestResult r = Call(op, path, std::move(data), entity_id);
  EXPECT_TRUE(r.http_status == 200 || r.http_status == 204)
      << op << " " << path << ": HTTP " << r.http_status << " " << r.error;
  return r.data;
}

RequestResult PluginSuite::Issue(const std::string& path, json params, const std::string& entity_id) {
  RequestResult r = Call(params.is_null() ? "read" : "update", path, std::move(params), entity_id);
  EXPECT_EQ(r.http_status, 200) << path << ": " << r.error;
  if (r.data.is_object() && r.data.contains("credential") && r.data["credential"].is_string()) {
    std::string cred = r.data["credential"];
    RecordSecret(cred);
    // The secret part alone (JWT signature / opaque random part) must not leak either.
    RecordSecret(SecretPart(cred));
  }
  return r;
}

PluginSuite::SharedMounts PluginSuite::MountsOnOneStorage() {
  SharedMounts out;
  out.storage = std::make_shared<FakeStorage>();
  SetupOptions options;
  options.storage = out.storage;
  auto first = host().Setup(options);
  auto second = host().Setup(options);
  if (!first.ok() || !second.ok() || !(*first)->Initialize().ok()) {
    ADD_FAILURE() << "setting up two mounts over one storage failed";
    return out;
  }
  out.active = *first;
  out.standby = *second;
  return out;
}

PluginSuite::OtherPlugin PluginSuite::StartOnStorage(std::shared_ptr<FakeStorage> storage) {
  OtherPlugin out;
  HostOptions options;
  options.binary = TaskcredPluginPath();
  auto started = PluginHost::Start(options);
  if (!started.ok()) {
    ADD_FAILURE() << "starting another plugin: " << started.status().ToString();
    return out;
  }
  SetupOptions setup;
  setup.storage = std::move(storage);
  auto mounted = (*started)->Setup(setup);
  if (!mounted.ok()) {
    ADD_FAILURE() << "mounting on the other plugin: " << mounted.status().ToString();
    return out;
  }
  out.host = std::move(started).value();
  out.mount = *mounted;
  return out;
}

void PluginSuite::RunTogether(int n, const std::function<void(int)>& fn) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (!go.load()) std::this_thread::yield();
      fn(i);
    });
  }
  while (ready.load() < n) std::this_thread::yield();
  go = true;
  for (auto& t : threads) t.join();
}

RequestResult PluginSuite::SecretOp(const std::string& op, const RequestResult& issued) {
  RequestResult r = mount().HandleRequest(LeaseRequest(op, issued));
  EXPECT_TRUE(r.status.ok()) << op << ": " << r.status.error_message();
  return r;
}

std::string PluginSuite::Exists(const std::string& path) {
  RequestSpec probe;
  probe.operation = "update";
  probe.path = path;
  auto r = mount().HandleExistenceCheck(probe);
  if (!r.ok()) return "rpc error";
  if (!r.reply.check_found()) return "no check";
  return r.reply.exists() ? "exists" : "absent";
}

json PluginSuite::RawBody(const RequestResult& r) {
  if (!r.data.is_object() || !r.data.contains("http_raw_body") || !r.data["http_raw_body"].is_string()) {
    ADD_FAILURE() << "not a raw response: " << r.data.dump();
    return nullptr;
  }
  auto body = crypto::Base64Decode(r.data["http_raw_body"].get<std::string>());
  if (!body.ok()) {
    ADD_FAILURE() << "http_raw_body is not base64";
    return nullptr;
  }
  json parsed = json::parse(*body, nullptr, false);
  if (parsed.is_discarded()) {
    ADD_FAILURE() << "http_raw_body is not JSON: " << *body;
    return nullptr;
  }
  return parsed;
}

StorageImage PluginSuite::Image() {
  StorageImage out;
  for (const auto& [k, e] : mount().storage().Snapshot()) out[k] = e.value;
  return out;
}

void PluginSuite::RecordSecret(const std::string& secret) {
  std::lock_guard<std::mutex> lock(secrets_mu());
  secrets().push_back(secret);
}

json PluginSuite::WaitForLog(const std::string& message, const std::function<bool(const json&)>& pred,
                             std::chrono::milliseconds timeout) {
  json found = nullptr;
  auto line = host().process().WaitForStderrLine(
      [&](const std::string& raw) {
        LogLine l = ParseLogLine(raw);
        if (!l.json || l.message != message || !pred(l.object)) return false;
        found = l.object;
        return true;
      },
      timeout);
  return line ? found : json(nullptr);
}

json BackupRole() {
  return {{"task", "nightly-backup"},
          {"grants", json::array({"write s3://backups/db1/{{snapshot_id}}", "read kv://db1/backup-user"})},
          {"parameters", {{"snapshot_id", "^[0-9]{1,12}$"}}},
          {"ttl", "15m"},
          {"max_ttl", "1h"},
          {"audience", "backup-service"},
          {"max_uses", 1}};
}

::testing::AssertionResult IsBadRequestNaming(const RequestResult& r, const std::string& field) {
  if (!r.status.ok()) return ::testing::AssertionFailure() << "RPC failed: " << r.status.error_message();
  if (r.http_status != 400) {
    return ::testing::AssertionFailure() << "HTTP " << r.http_status << " (want 400): " << r.error << " "
                                         << r.data.dump();
  }
  if (r.error.find(field) == std::string::npos) {
    return ::testing::AssertionFailure() << "message does not name \"" << field << "\": " << r.error;
  }
  return ::testing::AssertionSuccess() << r.error;
}

}  // namespace taskcred::test
