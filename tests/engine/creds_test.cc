#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/jwt.h"
#include "grants/grant.h"
#include "harness/task_layout.h"
#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// ---- issuance and JWT claims ----

class JwtIssuanceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(JwtIssuanceTest, JwtVerifiesAgainstJwksWithTheDocumentedClaims) {
  EngineHarness h;
  h.entity_id = "ent-1";
  ASSERT_TRUE(
      h.Write("config", {{"signing_algorithm", GetParam()}, {"issuer", "https://v.example/taskcred"}}).ok());
  json role = BaseRole();
  role["audience"] = "backup-service";
  role["max_uses"] = 1;
  ASSERT_TRUE(h.Write("roles/backup-job", role).ok());
  logical::Response resp = Issue(h, "creds/backup-job", {{"snapshot_id", "4711"}});

  const json& d = resp.data;
  ASSERT_EQ(d["credential_type"], "jwt");
  auto jwt = crypto::DecodeAndVerifyJwt(d["credential"].get<std::string>(), h.Jwks());
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  EXPECT_EQ(jwt->header["alg"], GetParam());
  const json& c = jwt->claims;
  EXPECT_EQ(c["iss"], "https://v.example/taskcred");
  EXPECT_EQ(c["sub"], "ent-1");
  EXPECT_EQ(c["aud"], json({"backup-service"}));
  EXPECT_EQ(c["iat"], h.now());
  EXPECT_EQ(c["nbf"], h.now());
  EXPECT_EQ(c["exp"], h.now() + 900);
  EXPECT_EQ(c["jti"], d["task_id"]);
  EXPECT_EQ(c["task"], "nightly-backup");
  EXPECT_EQ(c["role"], "backup-job");
  EXPECT_EQ(c["max_uses"], 1);
  json want_grants = {{{"resource", "s3://backups/db1/4711"}, {"actions", {"write"}}},
                      {{"resource", "kv://db1/backup-user"}, {"actions", {"read"}}}};
  EXPECT_EQ(c["grants"], want_grants);
  EXPECT_EQ(d["grants"], want_grants);
  EXPECT_EQ(d["audience"], json({"backup-service"}));
  EXPECT_EQ(d["task"], "nightly-backup");
  EXPECT_EQ(d["role"], "backup-job");
  EXPECT_EQ(d["max_uses"], 1);
  EXPECT_EQ(d["expires_at"], engine::Rfc3339(h.now() + 900));

  ASSERT_TRUE(resp.secret.has_value());
  EXPECT_EQ(resp.secret->lease_options.ttl, std::chrono::seconds(900));
  EXPECT_EQ(resp.secret->lease_options.max_ttl, std::chrono::seconds(3600));
  EXPECT_FALSE(resp.secret->lease_options.renewable);
  EXPECT_EQ(resp.secret->internal_data["task_id"], d["task_id"]);
  EXPECT_EQ(resp.secret->internal_data["role"], "backup-job");
  EXPECT_EQ(resp.secret->internal_data["secret_type"], "taskcred_credential");
}

INSTANTIATE_TEST_SUITE_P(Algorithms, JwtIssuanceTest, ::testing::Values("EdDSA", "ES256", "RS256"));

TEST(CredsTest, EachRunGetsItsOwnTaskIdAndRecord) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/r", {{"task", "t"}, {"grants", {"read kv://a/b"}}}).ok());
  json a = Issue(h, "creds/r").data;
  json b = Issue(h, "creds/r").data;
  EXPECT_NE(a["task_id"], b["task_id"]);
  EXPECT_EQ(ListKeys(h, "tasks/").size(), 2u);
}

TEST(CredsTest, SubjectIsAccessorWithoutEntityAndTaskWhenUnbound) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/r", {{"task", "t"}, {"grants", {"read kv://a/b"}}}).ok());
  ASSERT_TRUE(
      h.Write("roles/u", {{"task", "t"}, {"grants", {"read kv://a/b"}}, {"bind_entity", false}}).ok());
  json r = Issue(h, "creds/r").data;
  auto jwt = crypto::DecodeJwt(r["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["sub"], "accessor:acc-1234");
  json u = Issue(h, "creds/u").data;
  jwt = crypto::DecodeJwt(u["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["sub"], "task:" + u["task_id"].get<std::string>());
}

TEST(CredsTest, OpaqueCredentialIsStoredOnlyAsAHash) {
  EngineHarness h;
  ASSERT_TRUE(
      h.Write("roles/o", {{"task", "t"}, {"grants", {"read kv://a/b"}}, {"credential_type", "opaque"}}).ok());
  json d = Issue(h, "creds/o").data;
  std::string token = d["credential"];
  EXPECT_EQ(d["credential_type"], "opaque");
  EXPECT_EQ(token.rfind("tcop_" + d["task_id"].get<std::string>() + "_", 0), 0u);
  EXPECT_GE(token.size(), std::string("tcop_").size() + 36 + 1 + 43);  // 32 random bytes, base64url
  // The random part: everything after tcop_<task_id>_ (it may itself hold '_').
  std::string secret_part = token.substr(("tcop_" + d["task_id"].get<std::string>() + "_").size());
  for (const std::string& key : {TaskRecordKey(d["task_id"])}) {
    auto entry = h.storage().Get(key);
    ASSERT_TRUE(entry.ok() && entry->has_value());
    EXPECT_EQ((*entry)->value.find(secret_part), std::string::npos);
    EXPECT_NE((*entry)->value.find("token_hash"), std::string::npos);
  }
}

TEST(CredsTest, IssuanceIsLoggedWithoutTheCredential) {
  EngineHarness h;
  h.entity_id = "ent-9";
  ASSERT_TRUE(h.Write("roles/r", {{"task", "t"}, {"grants", {"read kv://a/b"}}}).ok());
  json d = Issue(h, "creds/r").data;
  std::string credential = d["credential"];
  bool found = false;
  for (const auto& line : h.sink().lines()) {
    EXPECT_EQ(line.find(credential.substr(credential.size() - 40)), std::string::npos) << line;
    if (line.find("credential issued") != std::string::npos) {
      found = true;
      json j = json::parse(line);
      EXPECT_EQ(j["task_id"], d["task_id"]);
      EXPECT_EQ(j["role"], "r");
      EXPECT_EQ(j["entity"], "ent-9");
      EXPECT_EQ(j["expires_at"], d["expires_at"]);
      EXPECT_EQ(j["grants_hash"], grants::GrantsHash({{"kv://a/b", {"read"}}}));
      EXPECT_EQ(j["@level"], "info");
    }
  }
  EXPECT_TRUE(found);
}

// ---- TTL bounding ----

struct TtlCase {
  std::string name;
  json role_ttls;  // ttl / max_ttl members
  int64_t mount_default;
  int64_t mount_max;
  std::string credential_type;
  int64_t want_ttl;
  int64_t want_max_ttl;
};

class TtlTest : public ::testing::TestWithParam<TtlCase> {};

TEST_P(TtlTest, LeaseTtlIsBounded) {
  const TtlCase& tc = GetParam();
  EngineHarness h;
  h.system_view().SetTtls(std::chrono::seconds(tc.mount_default), std::chrono::seconds(tc.mount_max));
  json role = {{"task", "t"}, {"grants", {"read kv://a/b"}}, {"credential_type", tc.credential_type}};
  role.update(tc.role_ttls);
  ASSERT_TRUE(h.Write("roles/r", role).ok());
  logical::Response resp = Issue(h, "creds/r");
  ASSERT_TRUE(resp.secret.has_value());
  EXPECT_EQ(resp.secret->lease_options.ttl, std::chrono::seconds(tc.want_ttl));
  EXPECT_EQ(resp.secret->lease_options.max_ttl, std::chrono::seconds(tc.want_max_ttl));
  EXPECT_EQ(resp.data["expires_at"], engine::Rfc3339(h.now() + tc.want_ttl));
}

INSTANTIATE_TEST_SUITE_P(
    Table, TtlTest,
    ::testing::Values(TtlCase{"RoleTtl", {{"ttl", 600}, {"max_ttl", 1200}}, 3600, 7200, "jwt", 600, 1200},
                      TtlCase{"MountDefaultWhenNoRoleTtl", json::object(), 1800, 7200, "jwt", 1800, 7200},
                      TtlCase{"MountMaxCapsRoleTtl", {{"ttl", 7200}}, 3600, 3000, "jwt", 3000, 3000},
                      TtlCase{"RoleMaxCapsMountDefault", {{"max_ttl", 900}}, 3600, 7200, "jwt", 900, 900},
                      TtlCase{"VerificationTtlCapsJwt", json::object(), 48 * 3600, 96 * 3600, "jwt",
                              24 * 3600, 24 * 3600},
                      TtlCase{"OpaqueNotCappedByVerificationTtl", json::object(), 48 * 3600, 96 * 3600,
                              "opaque", 48 * 3600, 96 * 3600}),
    [](const auto& param_info) { return param_info.param.name; });

// The mount's tuning is asked on every issuance (never cached: `vault
// secrets tune` does not tell the plugin), but only what the role needs: the
// max always, the default only for a role without a ttl.
TEST(CredsTest, IssuanceAsksTheMountOnlyWhatTheRoleNeeds) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/with-ttl", {{"task", "t"}, {"grants", {"read kv://a/b"}}, {"ttl", 600}}).ok());
  ASSERT_TRUE(h.Write("roles/no-ttl", {{"task", "t"}, {"grants", {"read kv://a/b"}}}).ok());
  struct Case {
    const char* path;
    int default_asks, max_asks;
  };
  for (const Case& c : {Case{"creds/with-ttl", 0, 1}, Case{"creds/no-ttl", 1, 1}}) {
    SCOPED_TRACE(c.path);
    (void)Issue(h, c.path);  // warms the config, role and key caches
    const int d0 = h.system_view().default_ttl_asks(), m0 = h.system_view().max_ttl_asks();
    (void)Issue(h, c.path);
    EXPECT_EQ(h.system_view().default_ttl_asks() - d0, c.default_asks);
    EXPECT_EQ(h.system_view().max_ttl_asks() - m0, c.max_asks);
  }
  // Tuned down between two issuances: the next lease and exp follow at once.
  h.system_view().SetTtls(std::chrono::seconds(3600), std::chrono::seconds(300));
  logical::Response resp = Issue(h, "creds/with-ttl");
  ASSERT_TRUE(resp.secret.has_value());
  EXPECT_EQ(resp.secret->lease_options.ttl, std::chrono::seconds(300));
  EXPECT_EQ(resp.data["expires_at"], engine::Rfc3339(h.now() + 300));
}

// ---- parameters ----

TEST(CredsTest, ParameterErrorsAre400sAndWriteNothing) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/backup-job", BaseRole()).ok());
  ExpectInvalid(h.Read("creds/backup-job"), "snapshot_id");                             // missing
  ExpectInvalid(h.Write("creds/backup-job", {{"snapshot_id", "abc"}}), "snapshot_id");  // no match
  ExpectInvalid(h.Write("creds/backup-job", {{"snapshot_id", "1234567890123"}}), "snapshot_id");
  ExpectInvalid(h.Write("creds/backup-job", {{"snapshot_id", "1"}, {"extra", "x"}}), "extra");  // unknown
  ExpectInvalid(h.Write("creds/backup-job", {{"snapshot_id", true}}), "snapshot_id");  // not a string
  ExpectInvalid(h.Read("creds/nope"), "role");
  EXPECT_EQ(ListKeys(h, "tasks/"), json::array());
  EXPECT_TRUE(h.Write("creds/backup-job", {{"snapshot_id", 4711}}).ok());  // integers are decimal strings
}

// ---- widening attempts ----

struct WidenCase {
  std::string name;
  std::string value;
};

class WideningTest : public ::testing::TestWithParam<WidenCase> {};

TEST_P(WideningTest, ValueThatCouldWidenTheGrantIsA400) {
  EngineHarness h;
  // The regex accepts anything: only the widening rules stand in the way.
  ASSERT_TRUE(h.Write("roles/w", {{"task", "t"},
                                  {"grants", {"write s3://backups/db1/{{id}}"}},
                                  {"parameters", {{"id", "^.+$"}}}})
                  .ok());
  ExpectInvalid(h.Write("creds/w", {{"id", GetParam().value}}), "id");
  EXPECT_EQ(ListKeys(h, "tasks/"), json::array());
  ExpectInvalid(h.Write("roles/w/preview", {{"id", GetParam().value}}), "id");
}

INSTANTIATE_TEST_SUITE_P(Table, WideningTest,
                         ::testing::Values(WidenCase{"DotDotSlash", "../db2"}, WidenCase{"DotDot", ".."},
                                           WidenCase{"Dot", "."}, WidenCase{"Star", "*"},
                                           WidenCase{"DoubleStar", "**"}, WidenCase{"StarSuffix", "a*"},
                                           WidenCase{"Slash", "a/b"}, WidenCase{"EncodedSlash", "a%2fb"},
                                           WidenCase{"EncodedSlashUpper", "..%2F..%2Fdb2"},
                                           WidenCase{"Backslash", "a\\b"}, WidenCase{"Query", "a?x=1"},
                                           WidenCase{"Fragment", "a#b"},
                                           WidenCase{"FullwidthSolidus",
                                                     "a\xef\xbc\x8f"
                                                     "b"},
                                           WidenCase{"DivisionSlash",
                                                     "a\xe2\x88\x95"
                                                     "b"},
                                           WidenCase{"FullwidthDots", "\xef\xbc\x8e\xef\xbc\x8e"},
                                           WidenCase{"Space", "a b"}, WidenCase{"Newline", "a\nb"},
                                           WidenCase{"Nul", std::string("a\0b", 3)}, WidenCase{"Empty", ""}),
                         [](const auto& param_info) { return param_info.param.name; });

TEST(CredsTest, SlashAllowedOnlyWhenTheRegexSaysSo) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/p", {{"task", "t"},
                                  {"grants", {"read s3://bucket/{{path}}"}},
                                  {"parameters", {{"path", "^[a-z]+(/[a-z]+)*$"}}}})
                  .ok());
  json d = Issue(h, "creds/p", {{"path", "team/reports"}}).data;
  EXPECT_EQ(d["grants"][0]["resource"], "s3://bucket/team/reports");
}

TEST(CredsTest, RenderedResourceStaysInsideTheLiteralPrefix) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/p", {{"task", "t"},
                                  {"grants", {"read s3://bucket/team/{{path}}"}},
                                  {"parameters", {{"path", "^[a-z./]+$"}}}})
                  .ok());
  ExpectInvalid(h.Write("creds/p", {{"path", "../other"}}), "path");
  ExpectInvalid(h.Write("creds/p", {{"path", "x/../../other"}}), "grants[0]");
  EXPECT_EQ(ListKeys(h, "tasks/"), json::array());
}

// ---- built-in and identity placeholders ----

logical::Entity CiEntity() {
  logical::Entity e;
  e.id = "ent-ci";
  e.name = "pipeline-7";
  e.metadata = {{"team", "payments"}};
  logical::Alias a;
  a.mount_accessor = "auth_jwt_1234";
  a.metadata = {{"repository", "acme-widgets"}, {"bad", "x/../y"}};
  e.aliases.push_back(a);
  return e;
}

TEST(CredsTest, BuiltinsAndIdentityPlaceholdersRender) {
  EngineHarness h;
  h.system_view().AddEntity(CiEntity());
  h.entity_id = "ent-ci";
  ASSERT_TRUE(
      h.Write("roles/ci",
              {{"task", "deploy"},
               {"grants",
                {"read git://github.com/acme/{{identity.entity.aliases.auth_jwt_1234.metadata.repository}}",
                 "write ci://runs/{{identity.entity.metadata.team}}/{{identity.entity.name}}/{{instance}}",
                 "read ci://x/{{role}}-{{task}}/{{identity.entity.id}}/{{task_id}}"}}})
          .ok());
  json d = Issue(h, "creds/ci/run-42").data;
  std::string task_id = d["task_id"];
  EXPECT_EQ(d["grants"][0]["resource"], "git://github.com/acme/acme-widgets");
  EXPECT_EQ(d["grants"][1]["resource"], "ci://runs/payments/pipeline-7/run-42");
  EXPECT_EQ(d["grants"][2]["resource"], "ci://x/ci-deploy/ent-ci/" + task_id);
  EXPECT_EQ(d["instance"], "run-42");
  auto jwt = crypto::DecodeJwt(d["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["instance"], "run-42");
}

TEST(CredsTest, InstanceSegmentIsValidated) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/r", {{"task", "t"}, {"grants", {"read kv://a/b"}}}).ok());
  ExpectInvalid(h.Read("creds/r/a..b"), "instance");
  ExpectInvalid(h.Read("creds/r/" + std::string(129, 'x')), "instance");
  auto r = h.Read("creds/r/a b");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), common::ErrorKind::kUnsupportedPath);
  EXPECT_EQ(ListKeys(h, "tasks/"), json::array());
  EXPECT_EQ(Issue(h, "creds/r/run-1.2_3").data["instance"], "run-1.2_3");
}

TEST(CredsTest, MissingIdentityValuesAre400s) {
  EngineHarness h;
  h.system_view().AddEntity(CiEntity());
  ASSERT_TRUE(
      h.Write("roles/meta", {{"task", "t"}, {"grants", {"read ci://x/{{identity.entity.metadata.nope}}"}}})
          .ok());
  ASSERT_TRUE(
      h.Write("roles/alias",
              {{"task", "t"},
               {"grants", {"read ci://x/{{identity.entity.aliases.auth_other.metadata.repository}}"}}})
          .ok());
  ASSERT_TRUE(h.Write("roles/id", {{"task", "t"}, {"grants", {"read ci://x/{{identity.entity.id}}"}}}).ok());
  ASSERT_TRUE(h.Write("roles/inst", {{"task", "t"}, {"grants", {"read ci://x/{{instance}}"}}}).ok());
  ASSERT_TRUE(h.Write("roles/bad",
                      {{"task", "t"},
                       {"grants", {"read ci://x/{{identity.entity.aliases.auth_jwt_1234.metadata.bad}}"}}})
                  .ok());
  h.entity_id = "ent-ci";
  ExpectInvalid(h.Read("creds/meta"), "identity.entity.metadata.nope");
  ExpectInvalid(h.Read("creds/alias"), "auth_other");
  ExpectInvalid(h.Read("creds/inst"), "instance");
  ExpectInvalid(h.Read("creds/bad"), "bad");  // alias metadata cannot widen either
  h.entity_id = "";
  ExpectInvalid(h.Read("creds/id"), "identity.entity.id");  // a token without an entity
  ExpectInvalid(h.Read("creds/meta"), "identity.entity.metadata.nope");
  EXPECT_EQ(ListKeys(h, "tasks/"), json::array());
}

// ---- preview ----

TEST(PreviewTest, ShowsWhatCredsWouldIssueAndWritesNothing) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/backup-job", BaseRole()).ok());
  ASSERT_TRUE(h.Read("jwks").ok());  // so the key ring exists before we count entries
  size_t before = dynamic_cast<logical::InmemStorage&>(h.storage()).size();
  json d = DataOf(h.Write("roles/backup-job/preview", {{"snapshot_id", "42"}, {"instance", "nightly"}}));
  EXPECT_EQ(d["grants"][0]["resource"], "s3://backups/db1/42");
  EXPECT_EQ(d["ttl"], 900);
  EXPECT_EQ(d["max_ttl"], 3600);
  EXPECT_EQ(d["audience"], json::array());
  EXPECT_EQ(d["instance"], "nightly");
  EXPECT_EQ(d["claims"]["task"], "nightly-backup");
  EXPECT_EQ(d["claims"]["exp"], h.now() + 900);
  EXPECT_FALSE(d.contains("credential"));
  EXPECT_EQ(dynamic_cast<logical::InmemStorage&>(h.storage()).size(), before);
  ExpectInvalid(h.Write("roles/backup-job/preview", json::object()), "snapshot_id");
}

// A dry run refuses exactly what the real run refuses, and accepts with the
// same grants: instances (URL segment for creds, body field for preview) and
// parameter values through both.
TEST(PreviewTest, RefusesAndAcceptsExactlyWhatCredsDoes) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/inst", {{"task", "t"}, {"grants", {"read kv://runs/{{instance}}"}}}).ok());
  ASSERT_TRUE(h.Write("roles/param", {{"task", "t"},
                                      {"grants", {"read kv://runs/{{p}}"}},
                                      {"parameters", {{"p", "^.+$"}}}})
                  .ok());
  auto grants_of = [](const logical::HandlerResult& r) {
    return r.ok() && r->has_value() ? (*r)->data["grants"] : json();
  };
  for (const std::string& instance :
       {std::string("run-1.2_3"), std::string("a..b"), std::string("."), std::string(".."), std::string("x/y"),
        std::string("../../etc"), std::string("a b"), std::string("r\xc3\xa9"), std::string("a\nb"), std::string(""),
        std::string(128, 'x'), std::string(129, 'x'), std::string(10240, 'y')}) {
    SCOPED_TRACE("instance \"" + instance.substr(0, 40) + "\"");
    auto creds = h.Read("creds/inst/" + instance);
    auto preview = h.Write("roles/inst/preview", {{"instance", instance}});
    EXPECT_EQ(creds.ok(), preview.ok()) << (creds.ok() ? preview.status() : creds.status()).ToString();
    if (!preview.ok()) ExpectInvalid(preview, "instance");
    if (creds.ok() && preview.ok()) {
      EXPECT_EQ(grants_of(creds), grants_of(preview));
    }
  }
  for (const std::string& value :
       {std::string("42"), std::string("a;b"), std::string("{{task_id}}"), std::string("x}}"), std::string("a*"),
        std::string("a/b"), std::string(".."), std::string("a b"), std::string("a,b=c"), std::string(300, 'v')}) {
    SCOPED_TRACE("p = \"" + value.substr(0, 40) + "\"");
    auto creds = h.Write("creds/param", {{"p", value}});
    auto preview = h.Write("roles/param/preview", {{"p", value}});
    EXPECT_EQ(creds.ok(), preview.ok()) << (creds.ok() ? preview.status() : creds.status()).ToString();
    if (!creds.ok()) ExpectInvalid(creds, "p (");  // names the parameter the caller sent
    if (!preview.ok()) ExpectInvalid(preview, "p (");
    if (creds.ok() && preview.ok()) {
      EXPECT_EQ(grants_of(creds), grants_of(preview));
    }
  }
}

TEST(PreviewTest, AudienceDefaultsFromConfig) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("config", {{"default_audience", "svc"}}).ok());
  ASSERT_TRUE(h.Write("roles/r", {{"task", "t"}, {"grants", {"read kv://a/b"}}}).ok());
  json d = DataOf(h.Write("roles/r/preview", json::object()));
  EXPECT_EQ(d["audience"], json({"svc"}));
  EXPECT_EQ(d["claims"]["aud"], json({"svc"}));
}

}  // namespace
}  // namespace taskcred::test
