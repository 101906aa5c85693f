// Every path of the engine through the real taskcred binary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/jwt.h"
#include "harness/task_layout.h"
#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// ---------------------------------------------------------------- config, keys

class PluginConfigTest : public PluginSuite {};

TEST_F(PluginConfigTest, DefaultsWriteReadBackExactDelete) {
  json defaults = Ok("read", "config");
  EXPECT_EQ(defaults, (json{{"issuer", "vault-taskcred"},
                            {"signing_algorithm", "EdDSA"},
                            {"rotation_period", 2592000},
                            {"verification_ttl", 86400},
                            {"default_audience", json::array()},
                            {"max_request_bytes", 1048576},
                            {"status_list", true},
                            {"status_list_ttl", 60}}));
  json written = {{"issuer", "https://vault.example.com/v1/taskcred"},
                  {"signing_algorithm", "ES256"},
                  {"rotation_period", "48h"},
                  {"verification_ttl", "36h"},
                  {"default_audience", "svc-a,svc-b"},
                  {"max_request_bytes", "2097152"},
                  {"status_list", false},
                  {"status_list_ttl", "90s"}};
  RequestResult w = Call("update", "config", written);
  EXPECT_EQ(w.http_status, 204) << w.error;
  EXPECT_EQ(Ok("read", "config"), (json{{"issuer", "https://vault.example.com/v1/taskcred"},
                                        {"signing_algorithm", "ES256"},
                                        {"rotation_period", 172800},
                                        {"verification_ttl", 129600},
                                        {"default_audience", {"svc-a", "svc-b"}},
                                        {"max_request_bytes", 2097152},
                                        {"status_list", false},
                                        {"status_list_ttl", 90}}));
  // Merge: a partial write keeps the other fields.
  Ok("update", "config", {{"issuer", "iss-2"}});
  json merged = Ok("read", "config");
  EXPECT_EQ(merged["issuer"], "iss-2");
  EXPECT_EQ(merged["signing_algorithm"], "ES256");
  EXPECT_EQ(Call("delete", "config").http_status, 204);
  EXPECT_EQ(Ok("read", "config"), defaults);
  EXPECT_EQ(mount().storage().Get("config"), std::nullopt);
}

TEST_F(PluginConfigTest, ExistenceCheckSeesWrittenConfig) {
  EXPECT_EQ(Exists("config"), "absent");
  Ok("update", "config", {{"issuer", "x"}});
  EXPECT_EQ(Exists("config"), "exists");
  Ok("delete", "config");
}

class PluginKeysTest : public PluginSuite {};

TEST_F(PluginKeysTest, JwksIsRawJsonWithCacheControl) {
  for (const char* path : {"jwks", ".well-known/jwks.json"}) {
    SCOPED_TRACE(path);
    RequestResult r = Call("read", path);
    EXPECT_EQ(r.http_status, 200);
    EXPECT_EQ(r.data["http_status_code"], 200);
    EXPECT_EQ(r.data["http_content_type"], "application/json");
    EXPECT_EQ(r.data["http_raw_cache_control"], "max-age=3600");
    json jwks = RawBody(r);
    ASSERT_TRUE(jwks.contains("keys"));
    ASSERT_EQ(jwks["keys"].size(), 2u) << "active + next key";
    for (const auto& k : jwks["keys"]) {
      EXPECT_EQ(k["alg"], "EdDSA");
      EXPECT_EQ(k["use"], "sig");
      EXPECT_TRUE(k["kid"].is_string());
      EXPECT_FALSE(k.contains("d")) << "private part in the JWKS";
    }
    EXPECT_EQ(r.reply.response().data().find("PRIVATE"), std::string::npos);
  }
}

TEST_F(PluginKeysTest, DiscoveryDocument) {
  Ok("update", "config", {{"issuer", "https://vault.example.com/v1/taskcred/"}, {"rotation_period", 3600}});
  RequestResult r = Call("read", ".well-known/openid-configuration");
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.data["http_content_type"], "application/json");
  EXPECT_EQ(r.data["http_raw_cache_control"], "max-age=1800");
  json doc = RawBody(r);
  EXPECT_EQ(doc["issuer"], "https://vault.example.com/v1/taskcred/");
  EXPECT_EQ(doc["jwks_uri"], "https://vault.example.com/v1/taskcred/.well-known/jwks.json");
  EXPECT_EQ(doc["id_token_signing_alg_values_supported"], json({"EdDSA"}));
  EXPECT_EQ(doc["subject_types_supported"], json({"public"}));
  EXPECT_EQ(doc["response_types_supported"], json({"id_token"}));
  Ok("update", "config", {{"issuer", "plain-name"}});
  EXPECT_FALSE(RawBody(Call("read", ".well-known/openid-configuration")).contains("jwks_uri"));
  Ok("delete", "config");
}

TEST_F(PluginKeysTest, SpecialPathsDeclareUnauthenticatedAndSealWrap) {
  auto sp = mount().SpecialPaths();
  ASSERT_TRUE(sp.ok());
  std::vector<std::string> unauth(sp.reply.paths().unauthenticated().begin(),
                                  sp.reply.paths().unauthenticated().end());
  EXPECT_THAT(unauth, ::testing::UnorderedElementsAre("jwks", ".well-known/jwks.json",
                                                      ".well-known/openid-configuration", "status/*"));
  std::vector<std::string> wrap(sp.reply.paths().seal_wrap_storage().begin(),
                                sp.reply.paths().seal_wrap_storage().end());
  EXPECT_THAT(wrap, ::testing::Contains("keys/"));
  auto ring = mount().storage().Get("keys/ring");
  ASSERT_TRUE(ring.has_value()) << "Initialize creates the key ring";
  EXPECT_TRUE(ring->seal_wrap);
}

TEST_F(PluginKeysTest, RotatePublishesBeforeSigningAndKeepsRetiredKeys) {
  json before = RawBody(Call("read", "jwks"));
  ASSERT_EQ(before["keys"].size(), 2u);
  std::string old_active = before["keys"][0]["kid"], old_next = before["keys"][1]["kid"];
  json r = Ok("update", "rotate");
  EXPECT_EQ(r["active_kid"], old_next) << "the published next key starts signing";
  EXPECT_NE(r["next_kid"], old_next);
  json after = RawBody(Call("read", "jwks"));
  std::vector<std::string> kids;
  for (const auto& k : after["keys"]) kids.push_back(k["kid"]);
  EXPECT_THAT(kids, ::testing::ElementsAre(old_next, r["next_kid"].get<std::string>(), old_active));
}

TEST_F(PluginKeysTest, InitializeAgainAndThePeriodicHookKeepTheRing) {
  // Vault calls Initialize on every mount load / leadership change, and the
  // rollback operation about once a minute: neither may churn keys early.
  auto ring = mount().storage().Get("keys/ring");
  ASSERT_TRUE(ring.has_value());
  auto init = mount().Initialize();
  ASSERT_TRUE(init.ok() && !init.reply.has_err());
  RequestResult rb = Call("rollback", "");
  EXPECT_TRUE(rb.http_status == 204 || rb.http_status == 200) << rb.error;
  auto after = mount().storage().Get("keys/ring");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->value, ring->value);
}

// ---------------------------------------------------------------- roles

class PluginRolesTest : public PluginSuite {};

TEST_F(PluginRolesTest, ExistenceCheckCreateReadUpdateListDelete) {
  EXPECT_EQ(Exists("roles/backup-job"), "absent");
  EXPECT_EQ(Call("create", "roles/backup-job", BackupRole()).http_status, 204);
  EXPECT_EQ(Exists("roles/backup-job"), "exists");

  json role = Ok("read", "roles/backup-job");
  EXPECT_EQ(role, (json{{"task", "nightly-backup"},
                        {"description", ""},
                        {"grants",
                         {{{"resource", "s3://backups/db1/{{snapshot_id}}"}, {"actions", {"write"}}},
                          {{"resource", "kv://db1/backup-user"}, {"actions", {"read"}}}}},
                        {"parameters", {{"snapshot_id", "^[0-9]{1,12}$"}}},
                        {"ttl", 900},
                        {"max_ttl", 3600},
                        {"renewable", false},
                        {"max_uses", 1},
                        {"audience", {"backup-service"}},
                        {"credential_type", "jwt"},
                        {"bind_entity", true},
                        {"binding", "none"}}));

  // Update merges.
  EXPECT_EQ(Call("update", "roles/backup-job", {{"description", "nightly"}, {"ttl", 600}}).http_status, 204);
  json updated = Ok("read", "roles/backup-job");
  json expect = role;
  expect["description"] = "nightly";
  expect["ttl"] = 600;
  EXPECT_EQ(updated, expect);

  Ok("create", "roles/other.v2", {{"task", "t"}, {"grants", "read kv://a/b"}});
  json list = Ok("list", "roles/");
  EXPECT_EQ(list["keys"], json({"backup-job", "other.v2"}));

  EXPECT_EQ(Call("delete", "roles/other.v2").http_status, 204);
  EXPECT_EQ(Call("read", "roles/other.v2").http_status, 404);
  EXPECT_EQ(Ok("list", "roles/")["keys"], json({"backup-job"}));
}

TEST_F(PluginRolesTest, PreviewIssuesNothing) {
  Ok("create", "roles/prev", BackupRole());
  StorageImage before = Image();
  json p = Ok("update", "roles/prev/preview", {{"snapshot_id", "4711"}, {"instance", "run-1"}});
  EXPECT_EQ(p["grants"], (json{{{"resource", "s3://backups/db1/4711"}, {"actions", {"write"}}},
                               {{"resource", "kv://db1/backup-user"}, {"actions", {"read"}}}}));
  EXPECT_EQ(p["ttl"], 900);
  EXPECT_EQ(p["max_ttl"], 3600);
  EXPECT_EQ(p["audience"], json({"backup-service"}));
  EXPECT_EQ(p["instance"], "run-1");
  EXPECT_EQ(p["claims"]["task"], "nightly-backup");
  EXPECT_EQ(p["claims"]["exp"].get<int64_t>() - p["claims"]["iat"].get<int64_t>(), 900);
  EXPECT_FALSE(p.contains("credential"));
  EXPECT_EQ(Image(), before) << "preview wrote to storage";
}

TEST_F(PluginRolesTest, PreviewAndCredsAgreeForAParameterCalledName) {
  // "name" is a legal parameter name (not a built-in); preview must take its
  // value from the body exactly as creds does.
  Ok("create", "roles/named",
     {{"task", "t"}, {"grants", "read kv://people/{{name}}"}, {"parameters", {{"name", "^[a-z]{1,20}$"}}}});
  RequestResult issued = Issue("creds/named", {{"name", "alice"}});
  ASSERT_EQ(issued.http_status, 200) << issued.error;
  EXPECT_EQ(issued.data["grants"][0]["resource"], "kv://people/alice");
  RequestResult preview = Call("update", "roles/named/preview", {{"name", "alice"}});
  ASSERT_EQ(preview.http_status, 200) << preview.error;
  EXPECT_EQ(preview.data["grants"], issued.data["grants"]);
}

// ---------------------------------------------------------------- creds

class PluginCredsTest : public PluginSuite {
 protected:
  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    Ok("update", "config", {{"issuer", "https://vault.example.com/v1/taskcred"}});
    Ok("create", "roles/backup-job", BackupRole());
    Ok("create", "roles/plain", {{"task", "report"}, {"grants", "read kv://reports/{{role}}"}, {"ttl", 300}});
    Ok("create", "roles/ci",
       {{"task", "ci-run"}, {"grants", "write ci://runs/{{instance}}/{{task_id}}"}, {"ttl", 120}});
    Ok("create", "roles/opaque",
       {{"task", "op"},
        {"grants", "read kv://x/y"},
        {"credential_type", "opaque"},
        {"renewable", true},
        {"ttl", 60},
        {"max_ttl", 120}});
  }
};

TEST_F(PluginCredsTest, ReadWithoutParameters) {
  RequestResult r = Issue("creds/plain");
  ASSERT_EQ(r.http_status, 200) << r.error;
  EXPECT_EQ(r.data["grants"], (json{{{"resource", "kv://reports/plain"}, {"actions", {"read"}}}}));
  EXPECT_EQ(r.data["credential_type"], "jwt");
  EXPECT_EQ(r.data["role"], "plain");
  EXPECT_EQ(r.data["task"], "report");
  ASSERT_TRUE(r.reply.response().has_secret());
  const auto& secret = r.reply.response().secret();
  EXPECT_EQ(secret.lease_options().ttl(), 300LL * 1000000000);
  EXPECT_FALSE(secret.lease_options().renewable());
  json internal = json::parse(secret.internal_data());
  EXPECT_EQ(internal["task_id"], r.data["task_id"]);
  EXPECT_EQ(internal["secret_type"], "taskcred_credential");
  // The JWT verifies against the served JWKS and carries the documented claims.
  auto jwt = crypto::DecodeAndVerifyJwt(r.data["credential"].get<std::string>(), RawBody(Call("read", "jwks")));
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  EXPECT_EQ(jwt->claims["jti"], r.data["task_id"]);
  EXPECT_EQ(jwt->claims["iss"], "https://vault.example.com/v1/taskcred");
  EXPECT_EQ(jwt->claims["sub"], "accessor:harness-accessor");
  EXPECT_EQ(jwt->claims["exp"].get<int64_t>() - jwt->claims["iat"].get<int64_t>(), 300);
}

TEST_F(PluginCredsTest, UpdateWithParameters) {
  RequestResult r = Issue("creds/backup-job", {{"snapshot_id", "4711"}}, "entity-1");
  ASSERT_EQ(r.http_status, 200) << r.error;
  EXPECT_EQ(r.data["grants"][0]["resource"], "s3://backups/db1/4711");
  EXPECT_EQ(r.data["max_uses"], 1);
  EXPECT_EQ(r.data["audience"], json({"backup-service"}));
  auto jwt = crypto::DecodeJwt(r.data["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["sub"], "entity-1");
  EXPECT_EQ(jwt->claims["max_uses"], 1);
  // JSON integers are accepted as their decimal text.
  RequestResult n = Issue("creds/backup-job", {{"snapshot_id", 42}});
  EXPECT_EQ(n.data["grants"][0]["resource"], "s3://backups/db1/42");
}

TEST_F(PluginCredsTest, InstanceIsRenderedAndRecorded) {
  RequestResult r = Issue("creds/ci/run-77");
  ASSERT_EQ(r.http_status, 200) << r.error;
  std::string task_id = r.data["task_id"];
  EXPECT_EQ(r.data["instance"], "run-77");
  EXPECT_EQ(r.data["grants"][0]["resource"], "ci://runs/run-77/" + task_id);
  ASSERT_TRUE(r.reply.response().has_secret()) << "the run is a lease under creds/ci/run-77";
  auto jwt = crypto::DecodeJwt(r.data["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["instance"], "run-77");
  EXPECT_EQ(Ok("read", "tasks/" + task_id)["instance"], "run-77");
  // Without an instance, {{instance}} has no value: 400.
  EXPECT_TRUE(IsBadRequestNaming(Call("read", "creds/ci"), "instance"));
}

TEST_F(PluginCredsTest, IntrospectActiveAllowedInactive) {
  RequestResult r = Issue("creds/backup-job", {{"snapshot_id", "5"}}, "entity-2");
  std::string token = r.data["credential"];
  json a = Ok("update", "introspect", {{"token", token}});
  EXPECT_EQ(a["active"], true);
  EXPECT_EQ(a["task_id"], r.data["task_id"]);
  EXPECT_EQ(a["role"], "backup-job");
  EXPECT_EQ(a["task"], "nightly-backup");
  EXPECT_EQ(a["sub"], "entity-2");
  EXPECT_EQ(a["aud"], json({"backup-service"}));
  EXPECT_EQ(a["uses_remaining"], 1);
  EXPECT_EQ(a["grants"], r.data["grants"]);
  EXPECT_FALSE(a.contains("allowed"));

  json allowed = Ok("update", "introspect", {{"token", token}, {"resource", "s3://backups/db1/5"}, {"action", "write"}});
  EXPECT_EQ(allowed["allowed"], true);
  json denied = Ok("update", "introspect", {{"token", token}, {"resource", "s3://backups/db1/6"}, {"action", "write"}});
  EXPECT_EQ(denied["active"], true);
  EXPECT_EQ(denied["allowed"], false);
  json wrong_action =
      Ok("update", "introspect", {{"token", token}, {"resource", "kv://db1/backup-user"}, {"action", "write"}});
  EXPECT_EQ(wrong_action["allowed"], false);

  // A denied consume spends nothing; an allowed one spends the only use.
  json c = Ok("update", "introspect",
              {{"token", token}, {"resource", "s3://backups/db1/6"}, {"action", "write"}, {"consume", true}});
  EXPECT_EQ(c["allowed"], false);
  c = Ok("update", "introspect", {{"token", token}, {"consume", true}});
  EXPECT_EQ(c["active"], true);
  EXPECT_EQ(c["uses_remaining"], 0);
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}}), json({{"active", false}})) << "spent";

  for (const std::string& bad : {std::string("garbage"), token.substr(0, token.size() - 3) + "AAA",
                                 std::string("tcop_00000000-0000-4000-8000-000000000000_xyz")}) {
    EXPECT_EQ(Ok("update", "introspect", {{"token", bad}}), json({{"active", false}})) << bad;
  }
  // Changing the issuer deactivates earlier JWTs.
  RequestResult other = Issue("creds/plain");
  Ok("update", "config", {{"issuer", "another-issuer"}});
  EXPECT_EQ(Ok("update", "introspect", {{"token", other.data["credential"]}}), json({{"active", false}}));
  Ok("update", "config", {{"issuer", "https://vault.example.com/v1/taskcred"}});
  EXPECT_EQ(Ok("update", "introspect", {{"token", other.data["credential"]}})["active"], true);
}

TEST_F(PluginCredsTest, AllowedFollowsTheDocumentedWildcardRule) {
  Ok("create", "roles/wild",
     {{"task", "t"}, {"grants", json::array({"read s3://b/*", "write s3://b/x/**", "read,list kv://k/exact"})}});
  RequestResult r = Issue("creds/wild");
  std::string token = r.data["credential"];
  struct Case {
    const char* resource;
    const char* action;
    bool allowed;
  };
  for (const Case& c : {Case{"s3://b/a", "read", true}, Case{"s3://b/a/b", "read", false},
                        Case{"s3://b/x/y", "write", true}, Case{"s3://b/x/y/z", "write", true},
                        Case{"s3://b/x", "write", false}, Case{"s3://b/a", "write", false},
                        Case{"kv://k/exact", "list", true}, Case{"kv://k/exact2", "read", false},
                        Case{"kv://k/exact/sub", "read", false}, Case{"s3://b/..", "read", false},
                        Case{"s3://b/x/../../etc", "write", false}, Case{"s3://b/x/a%2f..", "write", false},
                        Case{"s3://b/x//y", "write", false}, Case{"S3://b/a", "read", false},
                        Case{"s3://B/a", "read", false}, Case{"s3://b/x/y", "Write", false}}) {
    json a = Ok("update", "introspect", {{"token", token}, {"resource", c.resource}, {"action", c.action}});
    EXPECT_EQ(a["active"], true);
    EXPECT_EQ(a["allowed"], c.allowed) << c.action << " " << c.resource;
  }
}

TEST_F(PluginCredsTest, ReleaseEndsTheRunAndAnswersTheSameForAnyToken) {
  RequestResult r = Issue("creds/plain");
  std::string token = r.data["credential"];
  RequestResult rel = Call("update", "release", {{"token", token}});
  EXPECT_EQ(rel.http_status, 204);
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}}), json({{"active", false}}));
  EXPECT_EQ(Ok("read", "tasks/" + r.data["task_id"].get<std::string>())["released"], true);
  EXPECT_EQ(Call("update", "release", {{"token", token}}).http_status, 204) << "idempotent";
  EXPECT_EQ(Call("update", "release", {{"token", "not-a-token"}}).http_status, 204);
  EXPECT_TRUE(IsBadRequestNaming(Call("update", "release", json::object()), "token"));
}

TEST_F(PluginCredsTest, TasksListAndReadNeverShowTheCredential) {
  RequestResult r = Issue("creds/backup-job", {{"snapshot_id", "77"}});
  std::string token = r.data["credential"];
  std::string task_id = r.data["task_id"];
  RequestResult list = Call("list", "tasks/");
  ASSERT_EQ(list.http_status, 200);
  EXPECT_THAT(list.data["keys"].get<std::vector<std::string>>(), ::testing::Contains(task_id));
  json info = list.data["key_info"][task_id];
  EXPECT_EQ(info["role"], "backup-job");
  EXPECT_EQ(info["uses_remaining"], 1);
  EXPECT_EQ(info["active"], true);

  RequestResult read = Call("read", "tasks/" + task_id);
  ASSERT_EQ(read.http_status, 200);
  EXPECT_EQ(read.data["task_id"], task_id);
  EXPECT_EQ(read.data["grants"], r.data["grants"]);
  EXPECT_EQ(read.data["uses"], 0);
  EXPECT_EQ(read.data["revoked"], false);
  EXPECT_EQ(read.data["active"], true);
  for (const RequestResult* resp : {&list, &read}) {
    const std::string wire = resp->reply.SerializeAsString();
    EXPECT_EQ(wire.find(token), std::string::npos) << "credential in a tasks response";
    EXPECT_EQ(wire.find(token.substr(token.rfind('.') + 1)), std::string::npos) << "signature in tasks";
    EXPECT_EQ(resp->data.dump().find("hash"), std::string::npos) << resp->data.dump();
  }
  EXPECT_EQ(Call("read", "tasks/00000000-0000-4000-8000-000000000000").http_status, 404);

  // Ended runs are listed only with include_ended.
  ASSERT_EQ(SecretOp("revoke", r).http_status, 204);
  json live = Ok("list", "tasks/");
  if (live.contains("keys")) {
    EXPECT_THAT(live["keys"].get<std::vector<std::string>>(), ::testing::Not(::testing::Contains(task_id)));
  }
  json all = Ok("list", "tasks/", {{"include_ended", true}});
  EXPECT_THAT(all["keys"].get<std::vector<std::string>>(), ::testing::Contains(task_id));
}

TEST_F(PluginCredsTest, OpaqueRenewAndJwtRefusesRenew) {
  RequestResult r = Issue("creds/opaque");
  ASSERT_EQ(r.http_status, 200) << r.error;
  std::string token = r.data["credential"];
  std::string task_id = r.data["task_id"];
  EXPECT_EQ(token.rfind("tcop_" + task_id + "_", 0), 0u) << token;
  EXPECT_TRUE(r.reply.response().secret().lease_options().renewable());
  // Only the hash is stored.
  auto stored = mount().storage().Get(TaskRecordKey(task_id));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->value.find(SecretPart(token)), std::string::npos);

  RequestResult renew = SecretOp("renew", r);
  ASSERT_EQ(renew.http_status, 200) << renew.error;
  ASSERT_TRUE(renew.reply.response().has_secret());
  EXPECT_EQ(renew.reply.response().secret().lease_options().ttl(), 60LL * 1000000000);
  EXPECT_EQ(renew.reply.response().secret().lease_options().maxttl(), 120LL * 1000000000);
  EXPECT_TRUE(renew.reply.response().secret().lease_options().renewable());
  EXPECT_EQ(json::parse(renew.reply.response().secret().internal_data())["task_id"], task_id)
      << "renew echoes the internal data";
  // Vault returns the renew response's data to whoever calls sys/leases/renew
  // (the default policy lets any token renew): the credential must not be in it.
  EXPECT_EQ(renew.reply.response().SerializeAsString().find(SecretPart(token)), std::string::npos)
      << "renew response carries the credential: " << renew.data.dump();
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}})["credential_type"], "opaque");

  RequestResult jwt = Issue("creds/plain");
  RequestResult refused = SecretOp("renew", jwt);
  EXPECT_EQ(refused.http_status, 400) << refused.error;
  EXPECT_THAT(refused.error, HasSubstr("not renewable"));
}

TEST_F(PluginCredsTest, RevokeIsIdempotentAndDeactivates) {
  RequestResult r = Issue("creds/plain");
  std::string token = r.data["credential"];
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}})["active"], true);
  RequestResult first = SecretOp("revoke", r);
  EXPECT_EQ(first.http_status, 204) << first.error;
  RequestResult second = SecretOp("revoke", r);
  EXPECT_EQ(second.http_status, 204) << second.error;
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}}), json({{"active", false}}));
  EXPECT_EQ(Ok("read", "tasks/" + r.data["task_id"].get<std::string>())["revoked"], true);
  // Opaque too, and a renew after revoke is refused.
  RequestResult o = Issue("creds/opaque");
  EXPECT_EQ(SecretOp("revoke", o).http_status, 204);
  EXPECT_EQ(SecretOp("revoke", o).http_status, 204);
  EXPECT_EQ(Ok("update", "introspect", {{"token", o.data["credential"]}}), json({{"active", false}}));
  EXPECT_EQ(SecretOp("renew", o).http_status, 400);
}

TEST_F(PluginCredsTest, TidyAnswersCounts) {
  json t = Ok("update", "tidy");
  for (const char* k : {"tasks_deleted", "index_entries_deleted", "buckets_scanned", "keys_pruned"}) {
    EXPECT_TRUE(t.contains(k) && t[k].is_number_integer()) << k << " in " << t.dump();
  }
  EXPECT_EQ(t["tasks_deleted"], 0) << "nothing is past expiry + 1h yet";
}

TEST_F(PluginCredsTest, RollbackOperationAnswersWithoutError) {
  RequestResult r = Call("rollback", "");
  EXPECT_TRUE(r.http_status == 204 || r.http_status == 200) << r.http_status << " " << r.error;
  EXPECT_FALSE(r.reply.has_err() && !r.reply.err().err_msg().empty()) << r.reply.err().err_msg();
}

// ---------------------------------------------------------------- help

class PluginHelpTest : public PluginSuite {};

TEST_F(PluginHelpTest, RootHelpHasAnOpenApiDocumentWithEveryPath) {
  RequestResult r = Call("help", "");
  ASSERT_EQ(r.http_status, 200) << r.error;
  EXPECT_THAT(r.data["help"].get<std::string>(), HasSubstr("task-scoped credentials"));
  // List paths are documented without their optional trailing slash, as
  // Vault's expandPattern does ("roles/?" -> "/roles", GET with list=true).
  json doc = r.data["openapi"];
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["openapi"], "3.0.2");
  for (const char* p :
       {"/config", "/rotate", "/jwks", "/.well-known/jwks.json", "/.well-known/openid-configuration", "/roles",
        "/roles/{name}", "/roles/{name}/preview", "/creds/{role}", "/creds/{role}/{instance}", "/introspect",
        "/release", "/tasks", "/tasks/{task_id}", "/tidy"}) {
    EXPECT_TRUE(doc["paths"].contains(p)) << p << " missing; have " << doc["paths"].dump().substr(0, 4000);
  }
}

TEST_F(PluginHelpTest, PathHelp) {
  RequestResult r = Call("help", "roles/x");
  ASSERT_EQ(r.http_status, 200) << r.error;
  std::string help = r.data["help"];
  EXPECT_THAT(help, HasSubstr("task template"));
  EXPECT_THAT(help, HasSubstr("grants"));
  EXPECT_TRUE(r.data["openapi"]["paths"].contains("/roles/{name}"));
}

}  // namespace
}  // namespace taskcred::test
