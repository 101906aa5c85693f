#include "kit_mount.h"

#include <gtest/gtest.h>

#include "harness/secrets.h"
#include "kit/http_client.h"

namespace taskcred::test {

using nlohmann::json;

json BackupRoleFor(json extra) {
  json role = {{"task", "nightly-backup"},
               {"grants", json::array({"write s3://backups/db1/{{snapshot_id}}", "read kv://db1/backup-user"})},
               {"parameters", {{"snapshot_id", "^[0-9]{1,12}$"}}},
               {"ttl", "15m"},
               {"max_ttl", "1h"},
               {"audience", kAudience}};
  role.update(extra);
  return role;
}

RequestResult KitMount::Call(const std::string& op, const std::string& path, json data) {
  return CallMount(*mount, op, path, std::move(data), kEntity);
}

json KitMount::Ok(const std::string& op, const std::string& path, json data) {
  RequestResult r = Call(op, path, std::move(data));
  EXPECT_TRUE(r.http_status == 200 || r.http_status == 204) << op << " " << path << ": " << r.error;
  return r.data;
}

RequestResult KitMount::Issue(const std::string& role, json params) {
  RequestResult r = Call("update", "creds/" + role, std::move(params));
  EXPECT_EQ(r.http_status, 200) << r.error;
  if (r.data.is_object() && r.data.contains("credential")) {
    std::string cred = r.data["credential"];
    PluginSuite::RecordSecret(cred);
    // The secret part alone: a JWT's signature, an opaque token's random part.
    PluginSuite::RecordSecret(SecretPart(cred));
  }
  return r;
}

std::string KitMount::Credential(const std::string& role, json params) {
  RequestResult r = Issue(role, std::move(params));
  return r.data.value("credential", std::string());
}

int KitMount::Revoke(const RequestResult& issued) {
  RequestSpec spec;
  spec.operation = "revoke";
  spec.path = "creds/" + issued.data.value("role", std::string());
  spec.data = issued.data;
  spec.secret_internal_data = json::parse(issued.reply.response().secret().internal_data(), nullptr, false);
  spec.lease_id = "taskcred/" + spec.path + "/lease";
  spec.mount_point = "taskcred/";
  RequestResult r = mount->HandleRequest(spec);
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  return r.http_status;
}

json KitMount::Jwks() {
  kit::HttpOptions o;
  auto r = kit::HttpCall("GET", front->jwks_url(), {}, "", o);
  EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
  return r.ok() ? json::parse(r->body, nullptr, false) : json();
}

std::unique_ptr<KitMount> NewMount(json config) {
  auto mount = PluginSuite::host().Setup({});
  EXPECT_TRUE(mount.ok()) << mount.status().ToString();
  if (!mount.ok()) return nullptr;
  auto init = (*mount)->Initialize();
  EXPECT_TRUE(init.ok() && !init.reply.has_err());
  auto m = std::make_unique<KitMount>();
  m->mount = *mount;
  m->front = std::make_unique<VaultFront>(**mount, "taskcred", kFrontToken);
  if (!config.contains("issuer")) config["issuer"] = kIssuer;
  // kIssuer is not this front's address: its credentials carry no status
  // list entry unless asked (KitStatusListIntegrationTest).
  if (!config.contains("status_list")) config["status_list"] = false;
  m->Ok("update", "config", config);
  return m;
}

std::unique_ptr<KitMount> NewAlgorithmMount(const std::string& alg) {
  auto m = NewMount({{"signing_algorithm", alg}});
  if (m == nullptr) return nullptr;
  m->Ok("update", "rotate");  // the next key (already `alg`) becomes active
  m->Ok("update", "roles/backup", BackupRoleFor());
  return m;
}

kit::VerifierOptions OfflineOptions(const KitMount& m) {
  kit::VerifierOptions o;
  o.issuer = kIssuer;
  o.audience = kAudience;
  o.jwks_url = m.front->jwks_url();
  return o;
}

kit::VerifierOptions OnlineOptions(const KitMount& m) {
  kit::VerifierOptions o;
  o.vault_addr = m.front->addr();
  o.vault_token = kFrontToken;
  o.mount = "taskcred";
  return o;
}

std::unique_ptr<kit::Verifier> MakeVerifier(kit::VerifierOptions o) {
  auto v = kit::Verifier::Create(std::move(o));
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? std::move(v).value() : nullptr;
}

}  // namespace taskcred::test
