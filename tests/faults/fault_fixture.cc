#include "fault_fixture.h"

#include <algorithm>

#include "crypto/encoding.h"

namespace taskcred::test {

using nlohmann::json;

bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling a condition
  }
  return true;
}

json JwtRole() {
  return {{"task", "nightly-backup"},
          {"grants", json::array({"write kv://backups/{{snapshot_id}}", "read kv://db1/backup-user"})},
          {"parameters", {{"snapshot_id", "^[0-9]{1,12}$"}}},
          {"ttl", "15m"},
          {"max_ttl", "1h"}};
}

json OpaqueRole() {
  return {{"task", "opaque-job"},
          {"grants", "read kv://db1/opaque"},
          {"credential_type", "opaque"},
          {"renewable", true},
          {"ttl", "10m"},
          {"max_ttl", "1h"}};
}

// ----------------------------------------------------------------- hosts

PluginHost* FaultTest::StartHost() {
  HostOptions options;
  options.binary = TaskcredPluginPath();
  EXPECT_FALSE(options.binary.empty()) << "taskcred plugin path unknown (set TASKCRED_PLUGIN)";
  if (options.binary.empty()) return nullptr;
  options.extra_env = {{"VAULT_LOG_LEVEL", "trace"}};
  auto host = PluginHost::Start(options);
  EXPECT_TRUE(host.ok()) << host.status().ToString();
  if (!host.ok()) return nullptr;
  hosts_.push_back(std::move(host).value());
  return hosts_.back().get();
}

Mount* FaultTest::SetupMount(PluginHost* host, bool initialize, const std::string& multiplex_id) {
  if (host == nullptr) return nullptr;
  SetupOptions options;
  options.storage = storage_;
  options.multiplex_id = multiplex_id;
  auto mount = host->Setup(options);
  EXPECT_TRUE(mount.ok()) << mount.status().ToString();
  if (!mount.ok()) return nullptr;
  const auto& setup = (*mount)->setup();
  EXPECT_TRUE(setup.ok() && setup.reply.err().empty())
      << "Setup: " << setup.status.error_message() << " " << setup.reply.err();
  if (!setup.ok() || !setup.reply.err().empty()) return nullptr;
  if (initialize) {
    auto init = (*mount)->Initialize();
    EXPECT_TRUE(init.ok() && !init.reply.has_err())
        << "Initialize: " << init.status.error_message() << " " << init.reply.err().err_msg();
    if (!init.ok() || init.reply.has_err()) return nullptr;
  }
  return *mount;
}

Mount* FaultTest::StartMount() { return SetupMount(StartHost()); }

// --------------------------------------------------------------- requests

RequestSpec Spec(const std::string& op, const std::string& path, json data, std::chrono::milliseconds deadline) {
  RequestSpec spec;
  spec.operation = op;
  spec.path = path;
  spec.data = std::move(data);
  spec.mount_point = "taskcred/";
  spec.deadline = deadline;
  return spec;
}

RequestResult FaultTest::Call(Mount& m, const std::string& op, const std::string& path, json data,
                              std::chrono::milliseconds deadline) {
  RequestResult r = m.HandleRequest(Spec(op, path, std::move(data), deadline));
  EXPECT_TRUE(r.status.ok()) << op << " " << path << ": " << r.status.error_message();
  return r;
}

json FaultTest::Ok(Mount& m, const std::string& op, const std::string& path, json data) {
  RequestResult r = Call(m, op, path, std::move(data));
  EXPECT_TRUE(r.http_status == 200 || r.http_status == 204)
      << op << " " << path << ": HTTP " << r.http_status << " " << r.error;
  return r.data;
}

RequestResult FaultTest::Issue(Mount& m, const std::string& path, json params) {
  RequestResult r = Call(m, params.is_null() ? "read" : "update", path, std::move(params));
  EXPECT_EQ(r.http_status, 200) << path << ": " << r.error;
  RecordCredential(r);
  return r;
}

RequestResult FaultTest::SecretOp(Mount& m, const std::string& op, const RequestResult& issued) {
  RequestResult r = m.HandleRequest(LeaseRequest(op, issued));
  EXPECT_TRUE(r.status.ok()) << op << ": " << r.status.error_message();
  return r;
}

json FaultTest::Introspect(Mount& m, const std::string& token) {
  RequestResult r = Call(m, "update", "introspect", {{"token", token}});
  EXPECT_EQ(r.http_status, 200) << "introspect: " << r.error;
  return r.data.is_object() ? r.data : json::object();
}

json FaultTest::ListedTasks(Mount& m, bool include_ended) {
  json data = include_ended ? json{{"include_ended", true}} : json(nullptr);
  RequestResult r = Call(m, "list", "tasks/", data);
  EXPECT_TRUE(r.http_status == 200 || r.http_status == 204 || r.http_status == 404)
      << "list tasks/: HTTP " << r.http_status << " " << r.error;
  if (r.data.is_object() && r.data.contains("keys") && r.data["keys"].is_array()) return r.data["keys"];
  return json::array();
}

// ---------------------------------------------------------------- secrets

void FaultTest::RecordSecret(const std::string& secret) {
  if (secret.size() < 16) return;  // too short to be a secret worth scanning for
  std::lock_guard<std::mutex> lock(secrets_mu_);
  secrets_.push_back(secret);
}

void FaultTest::RecordCredential(const RequestResult& issued) {
  if (!issued.data.is_object() || !issued.data.contains("credential") || !issued.data["credential"].is_string()) {
    return;
  }
  std::string cred = issued.data["credential"];
  RecordSecret(cred);
  RecordSecret(SecretPart(cred));
}

std::vector<std::string> FaultTest::Secrets() {
  std::lock_guard<std::mutex> lock(secrets_mu_);
  return secrets_;
}

StorageImage FaultTest::Image() const {
  StorageImage out;
  for (const auto& [k, e] : storage_->Snapshot()) out[k] = e.value;
  return out;
}

std::vector<std::string> FaultTest::KeysUnder(const std::string& prefix) const {
  std::vector<std::string> out;
  for (const auto& [k, e] : storage_->Snapshot()) {
    if (k.rfind(prefix, 0) == 0) out.push_back(k);
  }
  return out;
}

namespace {

// Every string of key material that must never be logged: each private PEM
// of keys/ring, its base64 body lines, and the DER in hex and base64url.
std::vector<std::string> KeyMaterial(const StorageImage& image) {
  std::vector<std::string> out;
  auto it = image.find("keys/ring");
  if (it == image.end()) return out;
  json ring = json::parse(it->second, nullptr, false);
  std::vector<std::string> pems;
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_string()) {
      const std::string& s = j.get_ref<const std::string&>();
      if (s.find("PRIVATE KEY") != std::string::npos) pems.push_back(s);
    } else if (j.is_structured()) {
      for (const auto& v : j) walk(v);
    }
  };
  if (!ring.is_discarded()) walk(ring);
  for (const std::string& pem : pems) {
    out.push_back(pem);
    std::string body;
    size_t pos = 0;
    while (pos < pem.size()) {
      size_t nl = pem.find('\n', pos);
      std::string line = pem.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? pem.size() : nl + 1;
      if (line.empty() || line.rfind("-----", 0) == 0) continue;
      body += line;
      if (line.size() >= 32) out.push_back(line);
    }
    auto der = crypto::Base64Decode(body);
    if (der.ok()) {
      out.push_back(crypto::HexEncode(*der));
      out.push_back(crypto::Base64UrlEncode(*der));
      if (der->size() >= 32) {  // the raw key is the DER's tail for Ed25519
        std::string tail = der->substr(der->size() - 32);
        out.push_back(crypto::HexEncode(tail));
        out.push_back(crypto::Base64UrlEncode(tail));
        out.push_back(crypto::Base64Encode(tail));
      }
    }
  }
  return out;
}

}  // namespace

void FaultTest::WipeStorage() {
  std::vector<std::string> keys = KeyMaterial(Image());
  wiped_key_material_.insert(wiped_key_material_.end(), keys.begin(), keys.end());
  for (const auto& [k, e] : storage_->Snapshot()) storage_->Delete(k);
}

void FaultTest::ExpectCleanLogs() {
  std::vector<std::string> secrets = Secrets();
  std::vector<std::string> keys = KeyMaterial(Image());
  keys.insert(keys.end(), wiped_key_material_.begin(), wiped_key_material_.end());
  for (size_t i = 0; i < hosts_.size(); ++i) {
    std::vector<std::string> lines = hosts_[i]->process().StderrLines();
    lines.push_back(hosts_[i]->process().StdoutText());
    for (const std::string& line : lines) {
      EXPECT_EQ(line.find("PRIVATE KEY"), std::string::npos) << "host " << i << ": private key in the log: " << line;
      for (const std::string& s : secrets) {
        EXPECT_EQ(line.find(s), std::string::npos) << "host " << i << ": a credential reached the log: " << line;
      }
      for (const std::string& k : keys) {
        EXPECT_EQ(line.find(k), std::string::npos) << "host " << i << ": key material reached the log: " << line;
      }
    }
  }
}

void FaultTest::TearDown() {
  for (auto& host : hosts_) {
    if (host->process().Running()) {
      (void)host->Shutdown();
      if (!host->WaitExit(std::chrono::seconds(5))) {
        ADD_FAILURE() << "plugin did not exit after Shutdown";
        host->Kill();
        (void)host->WaitExit(std::chrono::seconds(5));
      }
    }
    host->process().WaitOutputClosed();
  }
  ExpectCleanLogs();
  // No credential (nor its secret part) is ever stored: opaque tokens only as hashes.
  std::vector<std::string> secrets = Secrets();
  for (const auto& [key, value] : Image()) {
    for (const std::string& s : secrets) {
      EXPECT_EQ(value.find(s), std::string::npos) << "storage key " << key << " holds a credential";
    }
  }
  hosts_.clear();
}

}  // namespace taskcred::test
