// Rules that span config and roles (verification_ttl >= every role's
// ttl/max_ttl) under concurrent writes, made deterministic with the host
// harness: one write is held in its storage Put (after its checks) while the
// other runs. And the repair of a mount already in the broken state.
#include <future>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class PluginSettingsRaceTest : public PluginSuite {
 protected:
  void SetUp() override {
    mount().storage().ReleaseHeldPuts();
    Ok("update", "config", {{"verification_ttl", 86400}});
    Ok("create", "roles/r", {{"task", "t"}, {"grants", "read kv://a/b"}, {"ttl", 60}, {"max_ttl", 60}});
  }
  void TearDown() override { mount().storage().ReleaseHeldPuts(); }

  static std::vector<std::string> Warnings(const RequestResult& r) {
    const auto& w = r.reply.response().warnings();
    return {w.begin(), w.end()};
  }
  static bool Succeeded(const RequestResult& r) { return r.http_status >= 200 && r.http_status < 300; }

  // Starts `first` and holds its Put of `held_key`; then starts `second` and
  // gives it `grace` to finish on its own before the Put is released.
  // Returns both results and whether `second` finished while `first` was held.
  struct Raced {
    RequestResult first, second;
    bool second_finished_while_held = false;
  };
  static Raced Race(const std::string& held_key, std::function<RequestResult()> first,
                    std::function<RequestResult()> second, milliseconds grace = milliseconds(1500)) {
    Raced out;
    mount().storage().HoldPuts(held_key);
    auto f = std::async(std::launch::async, std::move(first));
    EXPECT_TRUE(mount().storage().WaitForHeldPut(seconds(5))) << "the first write never reached its Put";
    auto s = std::async(std::launch::async, std::move(second));
    out.second_finished_while_held = s.wait_for(grace) == std::future_status::ready;
    mount().storage().ReleaseHeldPuts();
    out.first = f.get();
    out.second = s.get();
    return out;
  }
};

TEST_F(PluginSettingsRaceTest, ConfigAndRoleWritesCannotBothPassTheirChecks) {
  Raced r = Race(
      "config", [] { return Call("update", "config", {{"verification_ttl", 1500}}); },
      [] { return Call("update", "roles/r", {{"max_ttl", 3000}}); });
  EXPECT_FALSE(r.second_finished_while_held) << "the role write was checked against the config being replaced";
  EXPECT_TRUE(Succeeded(r.first)) << r.first.error;
  EXPECT_EQ(r.second.http_status, 400) << "both writes passed their checks";
  EXPECT_THAT(r.second.error, ::testing::HasSubstr("max_ttl"));
  json config = Ok("read", "config");
  json role = Ok("read", "roles/r");
  EXPECT_GE(config["verification_ttl"].get<int64_t>(), role["max_ttl"].get<int64_t>());
  // Neither side is wedged: an unrelated write of each still works.
  EXPECT_TRUE(Succeeded(Call("update", "config", {{"default_audience", "svc"}})));
  EXPECT_TRUE(Succeeded(Call("update", "roles/r", {{"description", "x"}})));
}

TEST_F(PluginSettingsRaceTest, RoleAndConfigWritesCannotBothPassTheirChecks) {
  Raced r = Race(
      "roles/r", [] { return Call("update", "roles/r", {{"max_ttl", 3000}}); },
      [] { return Call("update", "config", {{"verification_ttl", 1500}}); });
  EXPECT_FALSE(r.second_finished_while_held) << "the config write was checked against the role being replaced";
  EXPECT_TRUE(Succeeded(r.first)) << r.first.error;
  EXPECT_EQ(r.second.http_status, 400) << "both writes passed their checks";
  EXPECT_THAT(r.second.error, ::testing::HasSubstr("verification_ttl"));
  EXPECT_GE(Ok("read", "config")["verification_ttl"].get<int64_t>(), Ok("read", "roles/r")["max_ttl"].get<int64_t>());
}

// Two merges of one role: the second merges into what the first wrote (no
// lost update), so its max_ttl below the first's ttl is refused.
TEST_F(PluginSettingsRaceTest, TwoWritesOfOneRoleMergeInTurn) {
  Ok("update", "roles/r", {{"max_ttl", 3600}});
  Raced r = Race(
      "roles/r", [] { return Call("update", "roles/r", {{"ttl", 3000}}); },
      [] { return Call("update", "roles/r", {{"max_ttl", 1000}}); });
  EXPECT_TRUE(Succeeded(r.first)) << r.first.error;
  EXPECT_EQ(r.second.http_status, 400) << "the second write merged into the role the first replaced";
  EXPECT_THAT(r.second.error, ::testing::HasSubstr("ttl"));
  json role = Ok("read", "roles/r");
  EXPECT_EQ(role["ttl"], 3000);
  EXPECT_EQ(role["max_ttl"], 3600);
}

// A mount left with a role past verification_ttl (as the race above could
// leave one before) is repaired by writes that do not make it worse.
TEST_F(PluginSettingsRaceTest, AWedgedMountCanBeRepaired) {
  // Break the rule behind the plugin's back, as the old race did.
  auto config = mount().storage().Get("config");
  ASSERT_TRUE(config.has_value());
  json c = json::parse(config->value);
  c["verification_ttl"] = 1500;
  mount().storage().Put("config", {c.dump(), config->seal_wrap});
  auto role = mount().storage().Get("roles/r");
  ASSERT_TRUE(role.has_value());
  json rj = json::parse(role->value);
  rj["max_ttl"] = 3000;
  mount().storage().Put("roles/r", {rj.dump(), role->seal_wrap});
  ASSERT_TRUE(mount().InvalidateKey("config").ok());
  ASSERT_TRUE(mount().InvalidateKey("roles/r").ok());

  // Reads say so.
  RequestResult read = Call("read", "config");
  ASSERT_EQ(read.http_status, 200);
  EXPECT_THAT(Warnings(read), ::testing::Contains(::testing::HasSubstr("verification_ttl 1500")));
  read = Call("read", "roles/r");
  ASSERT_EQ(read.http_status, 200);
  EXPECT_THAT(Warnings(read), ::testing::Contains(::testing::HasSubstr("exceeds the config verification_ttl")));

  // Writes that do not make it worse are accepted, with the warning.
  RequestResult w = Call("update", "config", {{"default_audience", "svc"}});
  EXPECT_TRUE(Succeeded(w)) << w.error;
  EXPECT_FALSE(Warnings(w).empty());
  w = Call("update", "roles/r", {{"description", "being repaired"}});
  EXPECT_TRUE(Succeeded(w)) << w.error;
  EXPECT_FALSE(Warnings(w).empty());
  w = Call("update", "config", {{"verification_ttl", 2000}});
  EXPECT_TRUE(Succeeded(w)) << w.error;
  w = Call("update", "roles/r", {{"max_ttl", 2500}});
  EXPECT_TRUE(Succeeded(w)) << w.error;

  // Writes that make it worse are not.
  w = Call("update", "config", {{"verification_ttl", 1000}});
  EXPECT_EQ(w.http_status, 400);
  EXPECT_THAT(w.error, ::testing::HasSubstr("verification_ttl"));
  w = Call("update", "roles/r", {{"max_ttl", 2600}});
  EXPECT_EQ(w.http_status, 400);
  EXPECT_THAT(w.error, ::testing::HasSubstr("max_ttl"));
  w = Call("create", "roles/new", {{"task", "t"}, {"grants", "read kv://a/b"}, {"max_ttl", 2100}});
  EXPECT_EQ(w.http_status, 400) << "a new role past verification_ttl";
  EXPECT_EQ(Call("delete", "config").http_status, 204) << "the default 86400 repairs it";

  // Repaired: no warnings.
  EXPECT_TRUE(Warnings(Call("read", "config")).empty());
  EXPECT_TRUE(Warnings(Call("read", "roles/r")).empty());
  w = Call("update", "roles/r", {{"description", "repaired"}});
  EXPECT_TRUE(Succeeded(w)) << w.error;
  EXPECT_TRUE(Warnings(w).empty());
}

}  // namespace
}  // namespace taskcred::test
