// Limits and liveness through the engine (design.md, "Limits and
// liveness"): max_live_tasks (429), unique_instance (409), heartbeat_ttl
// with the heartbeat path, renewals and the periodic sweep, and what a
// second backend on the same storage (a restarted plugin) knows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "status_list_util.h"
#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

const json kInactive = {{"active", false}};

std::string Str(const json& j) { return j.get<std::string>(); }

void ExpectCoded(const logical::HandlerResult& r, int code, const std::string& field) {
  ASSERT_FALSE(r.ok()) << "expected " << code << " naming " << field;
  EXPECT_EQ(r.status().kind(), common::ErrorKind::kCoded) << r.status().ToString();
  EXPECT_EQ(r.status().http_code(), code) << r.status().ToString();
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr(field));
}

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.Write("config", {{"issuer", "https://vault.example/v1/taskcred/"}}).ok());
    json role = {{"task", "deploy"}, {"grants", {"read kv://app/*"}}, {"ttl", 600}};
    role["max_live_tasks"] = 3;
    role["max_delegation_depth"] = 1;
    ASSERT_TRUE(h_.Write("roles/capped", role).ok());
    role.erase("max_live_tasks");
    role["unique_instance"] = true;
    ASSERT_TRUE(h_.Write("roles/single", role).ok());
    role.erase("unique_instance");
    role["heartbeat_ttl"] = 60;
    ASSERT_TRUE(h_.Write("roles/alive", role).ok());
    role["credential_type"] = "opaque";
    role["renewable"] = true;
    role["ttl"] = 120;
    role["max_ttl"] = 3600;
    ASSERT_TRUE(h_.Write("roles/alive-renewable", role).ok());
  }
  logical::HandlerResult Heartbeat(const std::string& token) { return h_.Write("heartbeat", {{"token", token}}); }

  std::shared_ptr<logical::InmemStorage> storage_ = std::make_shared<logical::InmemStorage>();
  EngineHarness h_{storage_};
};

TEST_F(LimitsTest, MaxLiveTasksRefusesBeyondTheCapAndEveryEndFreesAPlace) {
  std::vector<logical::Response> live;
  for (int i = 0; i < 3; ++i) live.push_back(Issue(h_, "creds/capped"));
  json before = ListKeys(h_, "tasks/");
  ExpectCoded(h_.Read("creds/capped"), 429, "max_live_tasks");
  EXPECT_EQ(ListKeys(h_, "tasks/"), before);  // nothing issued
  // Delegated children live within their parent's place.
  auto child = h_.Write("delegate", {{"token", live[0].data["credential"]}});
  ASSERT_TRUE(child.ok()) << child.status().ToString();

  ASSERT_TRUE(h_.Write("release", {{"token", live[0].data["credential"]}}).ok());
  live[0] = Issue(h_, "creds/capped");
  ExpectCoded(h_.Read("creds/capped"), 429, "max_live_tasks");
  ASSERT_TRUE(h_.Revoke(*live[1].secret).ok());
  live[1] = Issue(h_, "creds/capped");
  ExpectCoded(h_.Read("creds/capped"), 429, "max_live_tasks");
  h_.Advance(601);  // expiry frees every place
  for (int i = 0; i < 3; ++i) Issue(h_, "creds/capped");
  ExpectCoded(h_.Read("creds/capped"), 429, "max_live_tasks");
  // Raising the cap takes effect at once.
  ASSERT_TRUE(h_.Write("roles/capped", {{"max_live_tasks", 4}}).ok());
  Issue(h_, "creds/capped");
  ExpectCoded(h_.Read("creds/capped"), 429, "max_live_tasks");
}

TEST_F(LimitsTest, ARestartedPluginCountsTheLiveTasksItDidNotIssue) {
  std::vector<logical::Response> live;
  for (int i = 0; i < 3; ++i) live.push_back(Issue(h_, "creds/capped"));
  EngineHarness restarted(storage_);
  restarted.SetNow(h_.now());
  ExpectCoded(restarted.Read("creds/capped"), 429, "max_live_tasks");
  ASSERT_TRUE(restarted.Revoke(*live[2].secret).ok());
  EXPECT_TRUE(restarted.Read("creds/capped").ok());
  ExpectCoded(restarted.Read("creds/capped"), 429, "max_live_tasks");
}

TEST_F(LimitsTest, UniqueInstanceAllowsOneLiveTaskPerInstance) {
  json a = Issue(h_, "creds/single/run-1").data;
  ExpectCoded(h_.Read("creds/single/run-1"), 409, "unique_instance");
  Issue(h_, "creds/single/run-2");
  Issue(h_, "creds/single");
  ExpectCoded(h_.Read("creds/single"), 409, "unique_instance");
  ASSERT_TRUE(h_.Write("release", {{"token", a["credential"]}}).ok());
  Issue(h_, "creds/single/run-1");
}

TEST_F(LimitsTest, AMissedHeartbeatEndsTheTaskForGood) {
  logical::Response issued = Issue(h_, "creds/alive");
  const std::string cred = Str(issued.data["credential"]);
  EXPECT_EQ(issued.data["heartbeat_ttl"], 60);
  h_.Advance(50);
  json beat = DataOf(Heartbeat(cred));
  EXPECT_EQ(beat["task_id"], issued.data["task_id"]);
  EXPECT_EQ(beat["heartbeat_due"], engine::Rfc3339(h_.now() + 60));
  h_.Advance(50);  // 100 s after issuance, 50 after the heartbeat
  EXPECT_EQ(h_.Introspect(cred)["active"], true);
  json task = DataOf(h_.Read("tasks/" + Str(issued.data["task_id"])));
  EXPECT_EQ(task["last_heartbeat"], engine::Rfc3339(h_.now() - 50));
  EXPECT_EQ(task["heartbeat_missed"], false);
  h_.Advance(10);  // due now
  EXPECT_EQ(h_.Introspect(cred), kInactive);
  ExpectInvalid(Heartbeat(cred), "token");  // too late: no revival
  EXPECT_EQ(h_.Introspect(cred), kInactive);
  // The sweep makes it persistent: the status list shows it.
  h_.Advance(2);
  EXPECT_FALSE(Revoked(h_, cred));
  ASSERT_TRUE(h_.Periodic().ok());
  h_.Advance(2);
  EXPECT_TRUE(Revoked(h_, cred));
  EXPECT_EQ(DataOf(h_.Read("tasks/" + Str(issued.data["task_id"])))["heartbeat_missed"], true);
}

TEST_F(LimitsTest, HeartbeatsSurviveARestart) {
  const std::string cred = Str(Issue(h_, "creds/alive").data["credential"]);
  h_.Advance(55);
  ASSERT_TRUE(Heartbeat(cred).ok());
  EngineHarness restarted(storage_);
  restarted.SetNow(h_.now() + 55);
  EXPECT_EQ(restarted.Introspect(cred)["active"], true);
  ASSERT_TRUE(restarted.Periodic().ok());
  EXPECT_EQ(restarted.Introspect(cred)["active"], true);
  restarted.Advance(5);
  EXPECT_EQ(restarted.Introspect(cred), kInactive);
}

TEST_F(LimitsTest, ARenewableLeaseIsRenewedOnlyWhileHeartbeatsAreOnTime) {
  logical::Response issued = Issue(h_, "creds/alive-renewable");
  h_.Advance(50);
  ASSERT_TRUE(h_.Renew(*issued.secret).ok());
  h_.Advance(50);
  auto late = h_.Renew(*issued.secret);
  ASSERT_FALSE(late.ok());
  EXPECT_THAT(late.status().message(), ::testing::HasSubstr("heartbeat"));
}

TEST_F(LimitsTest, HeartbeatRefusals) {
  ExpectInvalid(h_.Write("heartbeat", json::object()), "token");
  ExpectInvalid(Heartbeat("not-a-credential"), "token");
  // A task without a heartbeat has none to make, and a delegated one lives
  // on its parent's.
  logical::Response plain = Issue(h_, "creds/capped");
  ExpectInvalid(Heartbeat(Str(plain.data["credential"])), "heartbeat_ttl");
  auto child = h_.Write("delegate", {{"token", plain.data["credential"]}});
  ASSERT_TRUE(child.ok());
  ExpectInvalid(Heartbeat(Str((*child)->data["credential"])), "heartbeat_ttl");
}

TEST_F(LimitsTest, RoleRules) {
  json base = {{"task", "t"}, {"grants", {"read a://b"}}};
  json bad = base;
  bad["max_live_tasks"] = -1;
  ExpectInvalid(h_.Write("roles/x", bad), "max_live_tasks");
  bad = base;
  bad["max_live_tasks"] = 2000000;
  ExpectInvalid(h_.Write("roles/x", bad), "max_live_tasks");
  bad = base;
  bad["heartbeat_ttl"] = "-5s";
  ExpectInvalid(h_.Write("roles/x", bad), "heartbeat_ttl");
  json role = DataOf(h_.Read("roles/alive"));
  EXPECT_EQ(role["heartbeat_ttl"], 60);
  EXPECT_EQ(role["max_live_tasks"], 0);
  EXPECT_EQ(role["unique_instance"], false);
  EXPECT_EQ(DataOf(h_.Read("roles/single"))["unique_instance"], true);
}

}  // namespace
}  // namespace taskcred::test
