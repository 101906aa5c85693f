// Every 400 through the real binary: the message names the field and storage
// is exactly as before (key + value snapshot).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

struct BadWrite {
  std::string name;
  std::string path;
  json body;
  std::string field;  // the message must contain it
};

void PrintTo(const BadWrite& b, std::ostream* os) { *os << b.name; }

// ---------------------------------------------------------------- config

class PluginConfigInvalidTest : public PluginSuite, public ::testing::WithParamInterface<BadWrite> {
 protected:
  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    Ok("update", "config", {{"issuer", "https://vault.example.com/v1/taskcred"}, {"verification_ttl", "48h"}});
    // A role living 36 h: verification_ttl may not drop below it.
    Ok("create", "roles/long", {{"task", "t"}, {"grants", "read kv://a/b"}, {"max_ttl", "36h"}});
  }
};

TEST_P(PluginConfigInvalidTest, IsA400NamingTheFieldAndWritesNothing) {
  StorageImage before = Image();
  RequestResult r = Call("update", GetParam().path, GetParam().body);
  EXPECT_TRUE(IsBadRequestNaming(r, GetParam().field));
  EXPECT_EQ(Image(), before) << "storage changed";
  EXPECT_EQ(Ok("read", "config")["verification_ttl"], 172800);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PluginConfigInvalidTest,
    ::testing::Values(BadWrite{"EmptyIssuer", "config", {{"issuer", ""}}, "issuer"},
                      BadWrite{"IssuerWithSpace", "config", {{"issuer", "a b"}}, "issuer"},
                      BadWrite{"IssuerTooLong", "config", {{"issuer", std::string(1025, 'a')}}, "issuer"},
                      BadWrite{"BadAlgorithm", "config", {{"signing_algorithm", "HS256"}}, "signing_algorithm"},
                      BadWrite{"LowercaseAlgorithm", "config", {{"signing_algorithm", "eddsa"}}, "signing_algorithm"},
                      BadWrite{"RotationTooShort", "config", {{"rotation_period", 59}}, "rotation_period"},
                      BadWrite{"RotationNegative", "config", {{"rotation_period", -1}}, "rotation_period"},
                      BadWrite{"RotationNotADuration", "config", {{"rotation_period", "soon"}}, "rotation_period"},
                      BadWrite{"VerificationTtlZero", "config", {{"verification_ttl", 0}}, "verification_ttl"},
                      BadWrite{"VerificationTtlBelowRoleMaxTtl", "config", {{"verification_ttl", "24h"}},
                               "verification_ttl"},
                      BadWrite{"DuplicateAudience", "config", {{"default_audience", {"a", "a"}}}, "default_audience"},
                      BadWrite{"EmptyAudienceEntry", "config", {{"default_audience", {"a", ""}}}, "default_audience"}),
    [](const auto& param_info) { return param_info.param.name; });

TEST_F(PluginConfigInvalidTest, DeleteRefusedWhileARoleOutlivesTheDefault) {
  StorageImage before = Image();
  RequestResult r = Call("delete", "config");
  EXPECT_TRUE(IsBadRequestNaming(r, "verification_ttl"));
  EXPECT_EQ(Image(), before);
}

// ---------------------------------------------------------------- roles

json Merge(json base, const json& overrides) {
  for (const auto& [k, v] : overrides.items()) {
    if (v.is_null()) {
      base.erase(k);
    } else {
      base[k] = v;
    }
  }
  return base;
}

class PluginRoleInvalidTest : public PluginSuite, public ::testing::WithParamInterface<BadWrite> {
 protected:
  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    Ok("create", "roles/existing", BackupRole());
  }
};

TEST_P(PluginRoleInvalidTest, CreateIsA400NamingTheFieldAndWritesNothing) {
  StorageImage before = Image();
  RequestResult r = Call("create", GetParam().path, Merge(BackupRole(), GetParam().body));
  EXPECT_TRUE(IsBadRequestNaming(r, GetParam().field));
  EXPECT_EQ(Image(), before) << "storage changed";
}

TEST_P(PluginRoleInvalidTest, UpdateOfAnExistingRoleIsA400AndKeepsIt) {
  if (GetParam().path != "roles/r") GTEST_SKIP() << "name cases only apply to create";
  json overrides = GetParam().body;
  // Removing a field on update keeps the stored value: not an error.
  bool removes_only = true;
  for (const auto& [k, v] : overrides.items()) removes_only = removes_only && v.is_null();
  if (removes_only) GTEST_SKIP() << "an update without the field keeps the stored value";
  for (auto it = overrides.begin(); it != overrides.end();) {
    it = it->is_null() ? overrides.erase(it) : std::next(it);
  }
  StorageImage before = Image();
  json role_before = Ok("read", "roles/existing");
  RequestResult r = Call("update", "roles/existing", overrides);
  EXPECT_TRUE(IsBadRequestNaming(r, GetParam().field));
  EXPECT_EQ(Image(), before);
  EXPECT_EQ(Ok("read", "roles/existing"), role_before);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PluginRoleInvalidTest,
    ::testing::Values(
        BadWrite{"MissingTask", "roles/r", {{"task", nullptr}}, "task"},
        BadWrite{"EmptyTask", "roles/r", {{"task", ""}}, "task"},
        BadWrite{"TaskWithControlChar", "roles/r", {{"task", "a\nb"}}, "task"},
        BadWrite{"TaskTooLong", "roles/r", {{"task", std::string(257, 't')}}, "task"},
        BadWrite{"DescriptionTooLong", "roles/r", {{"description", std::string(4097, 'd')}}, "description"},
        BadWrite{"MissingGrants", "roles/r", {{"grants", nullptr}}, "grants"},
        BadWrite{"EmptyGrants", "roles/r", {{"grants", json::array()}}, "grants"},
        BadWrite{"GrantNotAUrl", "roles/r", {{"grants", {"read not-a-url"}}}, "grants"},
        BadWrite{"GrantObjectWithoutActions", "roles/r", {{"grants", {{{"resource", "kv://a/b"}}}}}, "grants"},
        BadWrite{"UnknownPlaceholder", "roles/r", {{"grants", {"read kv://x/{{nope}}"}}}, "nope"},
        BadWrite{"UnterminatedPlaceholder", "roles/r", {{"grants", {"read kv://x/{{snapshot_id"}}}, "grants"},
        BadWrite{"PlaceholderInScheme", "roles/r", {{"grants", {"read {{snapshot_id}}://x/y"}}}, "grants"},
        BadWrite{"RegexNotAnchoredStart", "roles/r", {{"parameters", {{"snapshot_id", "[0-9]+$"}}}}, "snapshot_id"},
        BadWrite{"RegexNotAnchoredEnd", "roles/r", {{"parameters", {{"snapshot_id", "^[0-9]+"}}}}, "snapshot_id"},
        BadWrite{"RegexEscapedDollar", "roles/r", {{"parameters", {{"snapshot_id", "^[0-9]+\\$"}}}}, "snapshot_id"},
        BadWrite{"RegexDoesNotCompile", "roles/r", {{"parameters", {{"snapshot_id", "^([0-9]+$"}}}}, "snapshot_id"},
        BadWrite{"ReservedParameterName",
                 "roles/r",
                 {{"parameters", {{"snapshot_id", "^[0-9]+$"}, {"task_id", "^[a-z]+$"}}}},
                 "parameters"},
        BadWrite{"IdentityParameterName",
                 "roles/r",
                 {{"parameters", {{"snapshot_id", "^[0-9]+$"}, {"identity_x", "^[a-z]+$"}}}},
                 "parameters"},
        BadWrite{"BadParameterName", "roles/r", {{"parameters", {{"snapshot_id", "^[0-9]+$"}, {"1x", "^a$"}}}},
                 "parameters"},
        BadWrite{"TtlAboveMaxTtl", "roles/r", {{"ttl", 7200}, {"max_ttl", 3600}}, "ttl"},
        BadWrite{"NegativeTtl", "roles/r", {{"ttl", -5}}, "ttl"},
        BadWrite{"TtlNotADuration", "roles/r", {{"ttl", "forever"}}, "ttl"},
        BadWrite{"MaxTtlAboveVerificationTtl", "roles/r", {{"max_ttl", "25h"}}, "max_ttl"},
        BadWrite{"TtlAboveVerificationTtl", "roles/r", {{"ttl", "25h"}, {"max_ttl", 0}}, "ttl"},
        BadWrite{"RenewableJwt", "roles/r", {{"renewable", true}}, "renewable"},
        BadWrite{"UnknownCredentialType", "roles/r", {{"credential_type", "bearer"}}, "credential_type"},
        BadWrite{"NegativeMaxUses", "roles/r", {{"max_uses", -1}}, "max_uses"},
        BadWrite{"MaxUsesNotInt", "roles/r", {{"max_uses", "many"}}, "max_uses"},
        BadWrite{"DuplicateAudience", "roles/r", {{"audience", {"a", "a"}}}, "audience"},
        BadWrite{"BindEntityNotBool", "roles/r", {{"bind_entity", "perhaps"}}, "bind_entity"},
        BadWrite{"GrantsNumber", "roles/r", {{"grants", 5}}, "grants"},
        BadWrite{"GrantsNullEntry", "roles/r", {{"grants", json::array({nullptr})}}, "grants"},
        BadWrite{"GrantResourceNotString", "roles/r", {{"grants", {{{"resource", 5}, {"actions", {"read"}}}}}},
                 "grants"},
        BadWrite{"GrantActionsEmpty", "roles/r", {{"grants", {{{"resource", "kv://a/b"}, {"actions", json::array()}}}}},
                 "grants"},
        BadWrite{"GrantsJsonStringBroken", "roles/r", {{"grants", "[{\"resource\":"}}, "grants"},
        BadWrite{"TooManyGrants", "roles/r", {{"grants", std::vector<std::string>(101, "read kv://a/b")}}, "grants"},
        BadWrite{"ParametersNotAMap", "roles/r", {{"parameters", 5}}, "parameters"},
        BadWrite{"ParameterRegexNotString", "roles/r", {{"parameters", {{"snapshot_id", 5}}}}, "parameters"},
        BadWrite{"TtlArray", "roles/r", {{"ttl", json::array()}}, "ttl"},
        BadWrite{"AudienceObject", "roles/r", {{"audience", {{"a", 1}}}}, "audience"},
        BadWrite{"NameWithDotDot", "roles/a..b", json::object(), "name"},
        BadWrite{"NameDot", "roles/.", json::object(), "name"},
        BadWrite{"NameTooLong", "roles/" + std::string(129, 'n'), json::object(), "name"}),
    [](const auto& param_info) { return param_info.param.name; });

class PluginRoleErrorsTest : public PluginSuite {};

TEST_F(PluginRoleErrorsTest, NamesOutsideTheCharacterSetDoNotRoute) {
  StorageImage before = Image();
  for (const char* path : {"roles/bad name", "roles/a*b", "roles/a%2fb"}) {
    RequestResult r = Call("create", path, BackupRole());
    EXPECT_EQ(r.http_status, 404) << path << ": " << r.error;
  }
  EXPECT_EQ(Image(), before);
}

TEST_F(PluginRoleErrorsTest, UnknownRoleOnCredsAndPreviewIsA400NamingRole) {
  StorageImage before = Image();
  EXPECT_TRUE(IsBadRequestNaming(Call("read", "creds/nope"), "role"));
  EXPECT_TRUE(IsBadRequestNaming(Call("update", "roles/nope/preview", json::object()), "role"));
  EXPECT_EQ(Image(), before);
}

TEST_F(PluginRoleErrorsTest, IntrospectInputErrors) {
  EXPECT_TRUE(IsBadRequestNaming(Call("update", "introspect", json::object()), "token"));
  EXPECT_TRUE(IsBadRequestNaming(Call("update", "introspect", {{"token", "x"}, {"resource", "kv://a/b"}}), "action"));
  EXPECT_TRUE(IsBadRequestNaming(Call("update", "introspect", {{"token", "x"}, {"action", "read"}}), "resource"));
  EXPECT_TRUE(
      IsBadRequestNaming(Call("update", "introspect", {{"token", "x"}, {"consume", "sometimes"}}), "consume"));
}

// ---------------------------------------------------------------- creds

struct BadCreds {
  BadCreds(std::string n, std::string p, json v, std::string f, std::string e = "")
      : name(std::move(n)), path(std::move(p)), params(std::move(v)), field(std::move(f)), entity_id(std::move(e)) {}
  std::string name;
  std::string path;
  json params;  // null: read
  std::string field;
  std::string entity_id;
};

void PrintTo(const BadCreds& b, std::ostream* os) { *os << b.name; }

class PluginCredsInvalidTest : public PluginSuite, public ::testing::WithParamInterface<BadCreds> {
 protected:
  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    Ok("create", "roles/backup-job", BackupRole());
    Ok("create", "roles/path",
       {{"task", "t"}, {"grants", "read fs://data/{{dir}}"}, {"parameters", {{"dir", "^[a-z/]{1,400}$"}}}});
    Ok("create", "roles/loose",
       {{"task", "t"}, {"grants", "read fs://data/{{v}}/x"}, {"parameters", {{"v", "^.{1,40}$"}}}});
    Ok("create", "roles/ident",
       {{"task", "t"},
        {"grants", "read kv://teams/{{identity.entity.metadata.team}}/{{identity.entity.name}}"}});
    Ok("create", "roles/entity-id", {{"task", "t"}, {"grants", "read kv://users/{{identity.entity.id}}"}});
    Ok("create", "roles/inst", {{"task", "t"}, {"grants", "read kv://runs/{{instance}}"}});
    SystemViewConfig sv = mount().system_view().Get();
    ::logical::Entity e;
    e.set_id("ent-no-meta");
    e.set_name("robot");
    sv.entities["ent-no-meta"] = e;
    mount().system_view().Set(sv);
  }
};

TEST_P(PluginCredsInvalidTest, IsA400NamingTheFieldAndRecordsNoTask) {
  StorageImage before = Image();
  const BadCreds& p = GetParam();
  RequestResult r = Call(p.params.is_null() ? "read" : "update", p.path, p.params, p.entity_id);
  EXPECT_TRUE(IsBadRequestNaming(r, p.field));
  EXPECT_FALSE(r.data.is_object() && r.data.contains("credential"));
  EXPECT_EQ(Image(), before) << "a task record or index entry was written";
  EXPECT_TRUE(mount().storage().List("tasks/").empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, PluginCredsInvalidTest,
    ::testing::Values(
        BadCreds{"MissingParameterOnRead", "creds/backup-job", nullptr, "snapshot_id"},
        BadCreds{"MissingParameter", "creds/backup-job", json::object(), "snapshot_id"},
        BadCreds{"UnknownParameter", "creds/backup-job", {{"snapshot_id", "1"}, {"extra", "2"}}, "extra"},
        BadCreds{"NonMatchingValue", "creds/backup-job", {{"snapshot_id", "12a"}}, "snapshot_id"},
        BadCreds{"TooLongValue", "creds/backup-job", {{"snapshot_id", "1234567890123"}}, "snapshot_id"},
        BadCreds{"DotDotClimb", "creds/backup-job", {{"snapshot_id", "../x"}}, "snapshot_id"},
        BadCreds{"Star", "creds/backup-job", {{"snapshot_id", "*"}}, "snapshot_id"},
        BadCreds{"Slash", "creds/backup-job", {{"snapshot_id", "a/b"}}, "snapshot_id"},
        BadCreds{"PercentEncodedSlash", "creds/backup-job", {{"snapshot_id", "%2f"}}, "snapshot_id"},
        BadCreds{"ValueNotAString", "creds/backup-job", {{"snapshot_id", json::array({1})}}, "snapshot_id"},
        BadCreds{"RegexAllowsSlashButNotClimb", "creds/path", {{"dir", "a/../b"}}, "dir"},
        BadCreds{"RegexAllowsSlashButNotEmptySegment", "creds/path", {{"dir", "a//b"}}, "dir"},
        BadCreds{"RegexAllowsSlashButNotLeadingSlash", "creds/path", {{"dir", "/etc"}}, "dir"},
        BadCreds{"ValueLongerThan256", "creds/path", {{"dir", std::string(300, 'a')}}, "dir"},
        BadCreds{"WideningStarStar", "creds/loose", {{"v", "**"}}, "v"},
        BadCreds{"WideningQuestionMark", "creds/loose", {{"v", "a?b"}}, "v"},
        BadCreds{"WideningHash", "creds/loose", {{"v", "a#b"}}, "v"},
        BadCreds{"WideningPercent", "creds/loose", {{"v", "a%2Fb"}}, "v"},
        BadCreds{"WideningBackslash", "creds/loose", {{"v", "a\\b"}}, "v"},
        BadCreds{"WideningSlashNotInRegex", "creds/loose", {{"v", "a/b"}}, "v"},
        BadCreds{"WideningDotDot", "creds/loose", {{"v", ".."}}, "v"},
        BadCreds{"WideningDot", "creds/loose", {{"v", "."}}, "v"},
        BadCreds{"WideningSpace", "creds/loose", {{"v", "a b"}}, "v"},
        BadCreds{"WideningTab", "creds/loose", {{"v", "a\tb"}}, "v"},
        BadCreds{"WideningNul", "creds/loose", {{"v", std::string("a\0b", 3)}}, "v"},
        BadCreds{"WideningFullwidthSlash", "creds/loose", {{"v", "a\uff0fb"}}, "v"},
        BadCreds{"WideningDivisionSlash", "creds/loose", {{"v", "a\u2215b"}}, "v"},
        BadCreds{"WideningOneDotLeader", "creds/loose", {{"v", "\u2024\u2024"}}, "v"},
        BadCreds{"EmptyValue", "creds/loose", {{"v", ""}}, "v"},
        // Outside a resource's alphabet: the parameter is named, not the grant.
        BadCreds{"Semicolon", "creds/loose", {{"v", "a;b"}}, "v (grants[0] {{v}}): value may not contain ';'"},
        BadCreds{"OpeningBraces", "creds/loose", {{"v", "{{task_id}}"}}, "v (grants[0] {{v}})"},
        BadCreds{"ClosingBraces", "creds/loose", {{"v", "x}}"}}, "v (grants[0] {{v}})"},
        BadCreds{"PreviewInstanceDotDot", "roles/inst/preview", {{"instance", "a..b"}}, "instance"},
        BadCreds{"PreviewInstanceSlash", "roles/inst/preview", {{"instance", "../../etc"}}, "instance"},
        BadCreds{"PreviewInstanceNewline", "roles/inst/preview", {{"instance", "a\nb"}}, "instance"},
        BadCreds{"PreviewInstanceTooLong", "roles/inst/preview", {{"instance", std::string(10240, 'i')}}, "instance"},
        BadCreds{"NoEntityForMetadata", "creds/ident", nullptr, "identity.entity.metadata.team"},
        BadCreds{"MissingEntityMetadata", "creds/ident", nullptr, "identity.entity.metadata.team", "ent-no-meta"},
        BadCreds{"UnknownEntity", "creds/ident", nullptr, "identity.entity.metadata.team", "ent-unknown"},
        BadCreds{"NoEntityId", "creds/entity-id", nullptr, "identity.entity.id"},
        BadCreds{"NoInstance", "creds/inst", nullptr, "instance"},
        BadCreds{"InstanceDotDot", "creds/inst/a..b", nullptr, "instance"},
        BadCreds{"InstanceDot", "creds/inst/.", nullptr, "instance"},
        BadCreds{"InstanceTooLong", "creds/inst/" + std::string(129, 'i'), nullptr, "instance"}),
    [](const auto& param_info) { return param_info.param.name; });

TEST_F(PluginCredsInvalidTest, SlashInTheInstanceSegmentDoesNotRoute) {
  StorageImage before = Image();
  RequestResult r = Call("read", "creds/inst/a/b");
  EXPECT_EQ(r.http_status, 404) << r.error;
  EXPECT_EQ(Image(), before);
}

}  // namespace
}  // namespace taskcred::test
