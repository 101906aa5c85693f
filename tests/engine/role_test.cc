#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

TEST(RoleTest, CreateReadRoundTripsWithStructuredGrants) {
  EngineHarness h;
  json body = BaseRole();
  body["description"] = "nightly db backup";
  body["audience"] = "backup-service";
  body["max_uses"] = 1;
  body["ttl"] = "15m";
  body["max_ttl"] = "1h";
  ASSERT_TRUE(h.Write("roles/backup-job", body).ok());
  json got = DataOf(h.Read("roles/backup-job"));
  EXPECT_EQ(got, (json{{"task", "nightly-backup"},
                       {"description", "nightly db backup"},
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
}

TEST(RoleTest, StructuredGrantsAndJsonStringFormAreAccepted) {
  EngineHarness h;
  json body = {{"task", "t"},
               {"grants", json::array({{{"resource", "db://main/orders"}, {"actions", {"read", "write"}}}})}};
  ASSERT_TRUE(h.Write("roles/a", body).ok());
  body["grants"] = R"([{"resource":"db://main/orders","actions":["read","write"]}])";
  ASSERT_TRUE(h.Write("roles/b", body).ok());
  EXPECT_EQ(DataOf(h.Read("roles/a"))["grants"], DataOf(h.Read("roles/b"))["grants"]);
}

TEST(RoleTest, UpdateMergesAndKeepsFieldsNotGiven) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/r", BaseRole()).ok());
  ASSERT_TRUE(h.Write("roles/r", {{"description", "changed"}}).ok());
  json got = DataOf(h.Read("roles/r"));
  EXPECT_EQ(got["description"], "changed");
  EXPECT_EQ(got["task"], "nightly-backup");
  EXPECT_EQ(got["ttl"], 900);
  EXPECT_EQ(got["grants"].size(), 2u);
}

TEST(RoleTest, ListAndDelete) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/one", BaseRole()).ok());
  ASSERT_TRUE(h.Write("roles/two.v2", BaseRole()).ok());
  EXPECT_EQ(ListKeys(h, "roles/"), (json{"one", "two.v2"}));
  ASSERT_TRUE(h.Delete("roles/one").ok());
  EXPECT_EQ(ListKeys(h, "roles/"), (json{"two.v2"}));
  auto gone = h.Read("roles/one");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

struct BadRole {
  std::string name;
  std::string role_name;
  json overrides;  // merged into BaseRole(); null members are removed
  std::string field;
};

class RoleInvalidTest : public ::testing::TestWithParam<BadRole> {};

TEST_P(RoleInvalidTest, IsA400NamingTheFieldAndWritesNothing) {
  EngineHarness h;
  json body = BaseRole();
  for (const auto& [k, v] : GetParam().overrides.items()) {
    if (v.is_null()) {
      body.erase(k);
    } else {
      body[k] = v;
    }
  }
  ExpectInvalid(h.Write("roles/" + GetParam().role_name, body), GetParam().field);
  EXPECT_EQ(ListKeys(h, "roles/"), json::array());
}

INSTANTIATE_TEST_SUITE_P(
    Table, RoleInvalidTest,
    ::testing::Values(
        BadRole{"MissingTask", "r", {{"task", nullptr}}, "task"},
        BadRole{"EmptyTask", "r", {{"task", ""}}, "task"},
        BadRole{"MissingGrants", "r", {{"grants", nullptr}}, "grants"},
        BadRole{"EmptyGrants", "r", {{"grants", json::array()}}, "grants"},
        BadRole{"BadAction", "r", {{"grants", {"Read kv://x/y"}}}, "grants"},
        BadRole{"BadResource", "r", {{"grants", {"read not-a-url"}}}, "grants"},
        BadRole{"UnknownPlaceholder", "r", {{"grants", {"read kv://x/{{nope}}"}}}, "nope"},
        BadRole{"UnterminatedPlaceholder", "r", {{"grants", {"read kv://x/{{snapshot_id"}}}, "grants"},
        BadRole{"PlaceholderInScheme", "r", {{"grants", {"read {{snapshot_id}}://x/y"}}}, "grants"},
        BadRole{"RegexNotAnchoredStart", "r", {{"parameters", {{"snapshot_id", "[0-9]+$"}}}}, "snapshot_id"},
        BadRole{"RegexNotAnchoredEnd", "r", {{"parameters", {{"snapshot_id", "^[0-9]+"}}}}, "snapshot_id"},
        BadRole{"RegexEscapedDollar", "r", {{"parameters", {{"snapshot_id", "^[0-9]+\\$"}}}}, "snapshot_id"},
        BadRole{"RegexDoesNotCompile", "r", {{"parameters", {{"snapshot_id", "^([0-9]+$"}}}}, "snapshot_id"},
        BadRole{"ReservedParameterName",
                "r",
                {{"parameters", {{"snapshot_id", "^[0-9]+$"}, {"role", "^[a-z]+$"}}}},
                "parameters"},
        BadRole{"BadParameterName",
                "r",
                {{"parameters", {{"snapshot_id", "^[0-9]+$"}, {"1x", "^a$"}}}},
                "parameters"},
        BadRole{"TtlAboveMaxTtl", "r", {{"ttl", 7200}, {"max_ttl", 3600}}, "ttl"},
        BadRole{"NegativeTtl", "r", {{"ttl", -5}}, "ttl"},
        BadRole{"MaxTtlAboveVerificationTtl", "r", {{"max_ttl", "25h"}}, "max_ttl"},
        BadRole{"RenewableJwt", "r", {{"renewable", true}}, "renewable"},
        BadRole{"UnknownCredentialType", "r", {{"credential_type", "bearer"}}, "credential_type"},
        BadRole{"NegativeMaxUses", "r", {{"max_uses", -1}}, "max_uses"},
        BadRole{"MaxUsesNotInt", "r", {{"max_uses", "many"}}, "max_uses"},
        BadRole{"DuplicateAudience", "r", {{"audience", {"a", "a"}}}, "audience"},
        BadRole{"NameWithDotDot", "a..b", json::object(), "name"},
        BadRole{"NameDot", ".", json::object(), "name"}),
    [](const auto& param_info) { return param_info.param.name; });

TEST(RoleTest, NamesOutsideTheCharacterSetDoNotRoute) {
  EngineHarness h;
  auto r = h.Write("roles/bad name", BaseRole());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), common::ErrorKind::kUnsupportedPath);
  r = h.Write("roles/a*b", BaseRole());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), common::ErrorKind::kUnsupportedPath);
}

TEST(RoleTest, InvalidUpdateLeavesTheStoredRoleUnchanged) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("roles/r", BaseRole()).ok());
  json before = DataOf(h.Read("roles/r"));
  ExpectInvalid(h.Write("roles/r", {{"renewable", true}, {"description", "x"}}), "renewable");
  EXPECT_EQ(DataOf(h.Read("roles/r")), before);
}

TEST(RoleTest, RenewableOpaqueIsAccepted) {
  EngineHarness h;
  json body = BaseRole();
  body["credential_type"] = "opaque";
  body["renewable"] = true;
  EXPECT_TRUE(h.Write("roles/r", body).ok());
}

TEST(RoleTest, IdentityPlaceholdersAreKnown) {
  EngineHarness h;
  json body = {{"task", "ci"},
               {"grants",
                {"read git://github.com/{{identity.entity.aliases.auth_jwt_1234.metadata.repository}}",
                 "write ci://runs/{{identity.entity.metadata.team}}/{{identity.entity.name}}/{{task_id}}",
                 "read ci://x/{{role}}-{{task}}-{{instance}}-{{identity.entity.id}}"}}};
  EXPECT_TRUE(h.Write("roles/ci", body).ok());
}

}  // namespace
}  // namespace taskcred::test
