#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

const json kDefaults = {{"issuer", "vault-taskcred"},
                        {"signing_algorithm", "EdDSA"},
                        {"rotation_period", 30 * 24 * 3600},
                        {"verification_ttl", 24 * 3600},
                        {"default_audience", json::array()},
                        {"max_request_bytes", 1048576},
                        {"status_list", true},
                        {"status_list_ttl", 60}};

TEST(ConfigTest, DefaultsWhenNeverWritten) {
  EngineHarness h;
  EXPECT_EQ(DataOf(h.Read("config")), kDefaults);
}

TEST(ConfigTest, WriteRoundTripsExactlyWithDurationsAsSeconds) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("config", {{"issuer", "https://vault.example.com/v1/taskcred"},
                                 {"signing_algorithm", "ES256"},
                                 {"rotation_period", "1h30m"},
                                 {"verification_ttl", "48h"},
                                 {"default_audience", "svc-a,svc-b"},
                                 {"max_request_bytes", 65536},
                                 {"status_list", "false"},
                                 {"status_list_ttl", "2m"}})
                  .ok());
  EXPECT_EQ(DataOf(h.Read("config")), (json{{"issuer", "https://vault.example.com/v1/taskcred"},
                                            {"signing_algorithm", "ES256"},
                                            {"rotation_period", 5400},
                                            {"verification_ttl", 172800},
                                            {"default_audience", {"svc-a", "svc-b"}},
                                            {"max_request_bytes", 65536},
                                            {"status_list", false},
                                            {"status_list_ttl", 120}}));
  EXPECT_EQ(h.backend().MaxRequestBytes(), 65536u) << "a write sets the mount's request limit";
}

TEST(ConfigTest, WriteMergesFieldsNotGiven) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("config", {{"issuer", "first"}, {"rotation_period", 600}}).ok());
  ASSERT_TRUE(h.Write("config", {{"verification_ttl", 7200}}).ok());
  json got = DataOf(h.Read("config"));
  EXPECT_EQ(got["issuer"], "first");
  EXPECT_EQ(got["rotation_period"], 600);
  EXPECT_EQ(got["verification_ttl"], 7200);
}

TEST(ConfigTest, DeleteRestoresDefaults) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("config", {{"issuer", "x"}}).ok());
  ASSERT_TRUE(h.Delete("config").ok());
  EXPECT_EQ(DataOf(h.Read("config")), kDefaults);
  EXPECT_EQ(h.backend().MaxRequestBytes(), 1048576u);
  EXPECT_FALSE(h.storage().Get("config")->has_value());
}

TEST(ConfigTest, ExistenceCheckDistinguishesCreateFromUpdate) {
  EngineHarness h;
  auto req = h.NewRequest(logical::Operation::kUpdate, "config");
  auto before = h.backend().HandleExistenceCheck(req);
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->check_found);
  EXPECT_FALSE(before->exists);
  ASSERT_TRUE(h.Write("config", {{"issuer", "x"}}).ok());
  auto after = h.backend().HandleExistenceCheck(req);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->exists);
}

struct BadConfig {
  std::string name;
  json body;
  std::string field;
};

class ConfigInvalidTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ConfigInvalidTest, IsA400NamingTheFieldAndWritesNothing) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("config", {{"issuer", "kept"}}).ok());
  json before = DataOf(h.Read("config"));
  ExpectInvalid(h.Write("config", GetParam().body), GetParam().field);
  EXPECT_EQ(DataOf(h.Read("config")), before);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigInvalidTest,
    ::testing::Values(BadConfig{"EmptyIssuer", {{"issuer", ""}}, "issuer"},
                      BadConfig{"IssuerWithSpace", {{"issuer", "a b"}}, "issuer"},
                      BadConfig{"AlgHS256", {{"signing_algorithm", "HS256"}}, "signing_algorithm"},
                      BadConfig{"AlgNone", {{"signing_algorithm", "none"}}, "signing_algorithm"},
                      BadConfig{"AlgLowercase", {{"signing_algorithm", "eddsa"}}, "signing_algorithm"},
                      BadConfig{"RotationNotDuration", {{"rotation_period", "soon"}}, "rotation_period"},
                      BadConfig{"RotationTooShort", {{"rotation_period", 30}}, "rotation_period"},
                      BadConfig{"VerificationZero", {{"verification_ttl", 0}}, "verification_ttl"},
                      BadConfig{"VerificationNotDuration", {{"verification_ttl", "x"}}, "verification_ttl"},
                      BadConfig{"DuplicateAudience", {{"default_audience", {"a", "a"}}}, "default_audience"},
                      BadConfig{"RequestLimitTooSmall", {{"max_request_bytes", 65535}}, "max_request_bytes"},
                      BadConfig{"RequestLimitAboveVaults", {{"max_request_bytes", 33554433}}, "max_request_bytes"},
                      BadConfig{"RequestLimitNotANumber", {{"max_request_bytes", "1MB"}}, "max_request_bytes"}),
    [](const auto& param_info) { return param_info.param.name; });

TEST(ConfigTest, VerificationTtlBelowARoleMaxTtlIsRefused) {
  EngineHarness h;
  json role = BaseRole();
  role["max_ttl"] = 7200;
  ASSERT_TRUE(h.Write("roles/backup", role).ok());
  auto r = h.Write("config", {{"verification_ttl", 3600}});
  ExpectInvalid(r, "verification_ttl");
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("backup"));
  EXPECT_TRUE(h.Write("config", {{"verification_ttl", 7200}}).ok());
}

TEST(ConfigTest, DeleteRefusedWhenDefaultVerificationTtlWouldBreakARole) {
  EngineHarness h;
  ASSERT_TRUE(h.Write("config", {{"verification_ttl", "72h"}}).ok());
  json role = BaseRole();
  role["max_ttl"] = "48h";
  ASSERT_TRUE(h.Write("roles/long", role).ok());
  ExpectInvalid(h.Delete("config"), "verification_ttl");
  EXPECT_EQ(DataOf(h.Read("config"))["verification_ttl"], 72 * 3600);
}

}  // namespace
}  // namespace taskcred::test
