// The config, keys, roles and help paths of the engine through the real
// taskcred binary (creds, introspect, tasks, renew/revoke and tidy: creds_test.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
                        {"binding", "none"},
                        {"max_delegation_depth", 0},
                        {"max_live_tasks", 0},
                        {"unique_instance", false},
                        {"heartbeat_ttl", 0}}));

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
