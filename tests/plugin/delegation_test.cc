// Delegation, live-task limits and heartbeats through the real plugin binary
// (design.md, "Delegation" and "Limits and liveness"): a CI pipeline handing
// its steps narrower credentials, an agent handing a tool a one-use one, the
// bounds and depth limit, each way a parent ends reaching a grandchild,
// max_live_tasks under 32 concurrent issuers, and a heartbeat that a second
// plugin process on the same storage still knows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "crypto/jwt.h"
#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

const json kInactive = {{"active", false}};

class PluginDelegationTest : public PluginSuite {};

TEST_F(PluginDelegationTest, APipelineHandsItsStepsNarrowerCredentialsThatDieWithIt) {
  Ok("create", "roles/pipeline", {{"task", "ci"},
                                  {"grants", json::array({"read,write s3://art/{{instance}}/**", "read kv://ci/common"})},
                                  {"ttl", "10m"},
                                  {"max_delegation_depth", 2}});
  RequestResult run = Issue("creds/pipeline/run-42");
  ASSERT_EQ(run.http_status, 200) << run.error;
  const std::string run_cred = run.data["credential"];

  auto delegate = [&](const std::string& token, json body) {
    body["token"] = token;
    RequestResult r = Call("update", "delegate", body);
    if (r.http_status == 200) RecordSecret(r.data["credential"]);
    return r;
  };
  // The dry run first: what the build step would get, nothing issued.
  json preview = Ok("update", "delegate/preview",
                    {{"token", run_cred}, {"grants", json::array({"write s3://art/run-42/build/**"})}, {"ttl", "5m"}});
  EXPECT_EQ(preview["ttl"], 300);
  EXPECT_EQ(preview["claims"]["act"], (json{{"sub", run.data["task_id"]}}));
  EXPECT_EQ(Ok("read", "tasks/" + run.data["task_id"].get<std::string>())["children"], json::array());
  RequestResult build = delegate(run_cred, {{"grants", json::array({"write s3://art/run-42/build/**"})}, {"ttl", "5m"}});
  ASSERT_EQ(build.http_status, 200) << build.error;
  RequestResult test = delegate(run_cred, {{"grants", json::array({"read s3://art/run-42/build/**"})}, {"max_uses", 10}});
  ASSERT_EQ(test.http_status, 200) << test.error;
  EXPECT_EQ(build.data["parent"], run.data["task_id"]);
  EXPECT_EQ(crypto::DecodeJwt(build.data["credential"].get<std::string>())->claims["act"],
            (json{{"sub", run.data["task_id"]}}));
  ASSERT_TRUE(build.reply.response().has_secret());
  EXPECT_FALSE(build.reply.response().secret().lease_options().renewable());

  // Each step may do its part and nothing more.
  auto allowed = [&](const RequestResult& cred, const std::string& resource, const std::string& action) {
    return Ok("update", "introspect",
              {{"token", cred.data["credential"]}, {"resource", resource}, {"action", action}})["allowed"];
  };
  EXPECT_EQ(allowed(build, "s3://art/run-42/build/app.tar", "write"), true);
  EXPECT_EQ(allowed(build, "s3://art/run-42/build/app.tar", "read"), false);
  EXPECT_EQ(allowed(test, "s3://art/run-42/build/app.tar", "read"), true);
  EXPECT_EQ(allowed(test, "s3://art/run-4/build/app.tar", "read"), false);
  // Wider than the run is a 400 naming the grant; the step's own child is narrower still.
  EXPECT_TRUE(IsBadRequestNaming(delegate(run_cred, {{"grants", json::array({"write kv://ci/common"})}}), "grants[0]"));
  EXPECT_TRUE(IsBadRequestNaming(delegate(test.data["credential"], {{"grants", json::array({"write s3://art/run-42/build/x"})}}),
                                 "grants[0]"));
  RequestResult shard = delegate(test.data["credential"], {{"grants", json::array({"read s3://art/run-42/build/shard-1"})},
                                                           {"max_uses", 1}});
  ASSERT_EQ(shard.http_status, 200) << shard.error;
  // (Listed by id: task ids are random within their hour, so in no particular order.)
  EXPECT_THAT(Ok("read", "tasks/" + run.data["task_id"].get<std::string>())["children"].get<std::vector<std::string>>(),
              ::testing::UnorderedElementsAre(build.data["task_id"].get<std::string>(),
                                              test.data["task_id"].get<std::string>()));

  // Ending the run (Vault revokes its lease) ends every step at once.
  ASSERT_EQ(mount().HandleRequest(LeaseRequest("revoke", run)).http_status, 204);
  for (const RequestResult* c : {&build, &test, &shard}) {
    EXPECT_EQ(Ok("update", "introspect", {{"token", c->data["credential"]}}), kInactive) << c->data["task_id"];
  }
  EXPECT_EQ(delegate(run_cred, json::object()).http_status, 400);
}

TEST_F(PluginDelegationTest, AnAgentHandsAToolAOneUseCredential) {
  Ok("create", "roles/agent", {{"task", "assistant"},
                               {"grants", json::array({"read,send mail://inbox/*", "read cal://me/events"})},
                               {"ttl", "15m"},
                               {"max_delegation_depth", 1}});
  RequestResult agent = Issue("creds/agent");
  ASSERT_EQ(agent.http_status, 200) << agent.error;
  RequestResult tool = Call("update", "delegate",
                            {{"token", agent.data["credential"]},
                             {"grants", json::array({"read cal://me/events"})},
                             {"max_uses", 1},
                             {"ttl", "60s"}});
  ASSERT_EQ(tool.http_status, 200) << tool.error;
  RecordSecret(tool.data["credential"]);
  json spend = {{"token", tool.data["credential"]}, {"resource", "cal://me/events"}, {"action", "read"}, {"consume", true}};
  EXPECT_EQ(Ok("update", "introspect", spend)["uses_remaining"], 0);
  EXPECT_EQ(Ok("update", "introspect", spend), kInactive);
  // The agent keeps its own rights; the tool cannot hand its credential on.
  EXPECT_EQ(Ok("update", "introspect", {{"token", agent.data["credential"]}})["active"], true);
  EXPECT_TRUE(IsBadRequestNaming(Call("update", "delegate", {{"token", tool.data["credential"]}}), "token"));
}

TEST_F(PluginDelegationTest, BoundsDepthAndEachWayAParentEndsReachAGrandchild) {
  Ok("create", "roles/family", {{"task", "t"},
                                {"grants", json::array({"read,write kv://fam/**"})},
                                {"ttl", "10m"},
                                {"max_uses", 3},
                                {"audience", json::array({"a", "b"})},
                                {"max_delegation_depth", 2}});
  Ok("create", "roles/brief", {{"task", "t"}, {"grants", "read kv://fam/x"}, {"ttl", "2s"}, {"max_delegation_depth", 2}});
  auto delegate = [&](const json& token, json body) {
    body["token"] = token;
    RequestResult r = Call("update", "delegate", body);
    if (r.http_status == 200) RecordSecret(r.data["credential"]);
    return r;
  };
  RequestResult parent = Issue("creds/family");
  ASSERT_EQ(parent.http_status, 200) << parent.error;
  const json& token = parent.data["credential"];
  EXPECT_TRUE(IsBadRequestNaming(delegate(token, {{"ttl", "11m"}}), "ttl"));
  EXPECT_TRUE(IsBadRequestNaming(delegate(token, {{"max_uses", 4}}), "max_uses"));
  EXPECT_TRUE(IsBadRequestNaming(delegate(token, {{"audience", "a,c"}}), "audience"));
  EXPECT_TRUE(IsBadRequestNaming(delegate(token, {{"grants", json::array({"read kv://fam"})}}), "grants[0]"));
  RequestResult child = delegate(token, {{"audience", "b"}, {"max_uses", 2}});
  ASSERT_EQ(child.http_status, 200) << child.error;
  RequestResult grandchild = delegate(child.data["credential"], json::object());
  ASSERT_EQ(grandchild.http_status, 200) << grandchild.error;
  EXPECT_EQ(grandchild.data["max_uses"], 2);
  EXPECT_EQ(grandchild.data["audience"], json::array({"b"}));
  EXPECT_TRUE(IsBadRequestNaming(delegate(grandchild.data["credential"], json::object()), "max_delegation_depth"));

  // Each way a parent ends reaches its grandchild.
  for (const std::string how : {"revoke", "release", "use", "expire"}) {
    SCOPED_TRACE(how);
    RequestResult p = Issue(how == "expire" ? "creds/brief" : "creds/family");
    ASSERT_EQ(p.http_status, 200) << p.error;
    RequestResult c = delegate(p.data["credential"], json::object());
    ASSERT_EQ(c.http_status, 200) << c.error;
    RequestResult g = delegate(c.data["credential"], json::object());
    ASSERT_EQ(g.http_status, 200) << g.error;
    ASSERT_EQ(Ok("update", "introspect", {{"token", g.data["credential"]}})["active"], true);
    if (how == "revoke") {
      ASSERT_EQ(mount().HandleRequest(LeaseRequest("revoke", p)).http_status, 204);
    } else if (how == "release") {
      ASSERT_EQ(Call("update", "release", {{"token", p.data["credential"]}}).http_status, 204);
    } else if (how == "use") {
      for (int i = 0; i < 3; ++i) Ok("update", "introspect", {{"token", p.data["credential"]}, {"consume", true}});
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    }
    EXPECT_EQ(Ok("update", "introspect", {{"token", c.data["credential"]}}), kInactive);
    EXPECT_EQ(Ok("update", "introspect", {{"token", g.data["credential"]}}), kInactive);
  }
}

class PluginLimitsTest : public PluginSuite {};

TEST_F(PluginLimitsTest, MaxLiveTasksIssuesExactlyTheCapUnder32ConcurrentIssuers) {
  constexpr int kCap = 5;
  constexpr int kIssuers = 32;
  Ok("create", "roles/capped", {{"task", "t"}, {"grants", "read kv://x/y"}, {"ttl", "10m"}, {"max_live_tasks", kCap}});
  std::vector<RequestResult> answers(kIssuers);
  RunTogether(kIssuers, [&](int i) { answers[i] = mount().HandleRequest(MakeRequest("read", "creds/capped")); });
  std::vector<RequestResult> issued;
  int refused = 0;
  for (const RequestResult& a : answers) {
    ASSERT_TRUE(a.status.ok()) << a.status.error_message();
    if (a.http_status == 200) {
      RecordSecret(a.data["credential"]);
      issued.push_back(a);
    } else {
      EXPECT_EQ(a.http_status, 429) << a.error;
      EXPECT_THAT(a.error, ::testing::HasSubstr("max_live_tasks"));
      ++refused;
    }
  }
  EXPECT_EQ(issued.size(), static_cast<size_t>(kCap));
  EXPECT_EQ(refused, kIssuers - kCap);
  // Released and revoked tasks free their places, one each.
  ASSERT_EQ(Call("update", "release", {{"token", issued[0].data["credential"]}}).http_status, 204);
  ASSERT_EQ(mount().HandleRequest(LeaseRequest("revoke", issued[1])).http_status, 204);
  EXPECT_EQ(Issue("creds/capped").http_status, 200);
  EXPECT_EQ(Issue("creds/capped").http_status, 200);
  EXPECT_EQ(Call("read", "creds/capped").http_status, 429);
}

TEST_F(PluginLimitsTest, AHeartbeatKeepsATaskAliveAcrossAPluginRestartAndAMissedOneEndsIt) {
  SharedMounts mounts = MountsOnOneStorage();
  ASSERT_NE(mounts.active, nullptr);
  Mount& first = *mounts.active;
  ASSERT_EQ(CallMount(first, "create", "roles/alive",
                      {{"task", "t"}, {"grants", "read kv://x/y"}, {"ttl", "10m"}, {"heartbeat_ttl", "3s"}}, "")
                .http_status,
            204);
  RequestResult issued = CallMount(first, "read", "creds/alive", nullptr, "");
  ASSERT_EQ(issued.http_status, 200) << issued.error;
  RecordSecret(issued.data["credential"]);
  const json token = {{"token", issued.data["credential"]}};
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  RequestResult beat = CallMount(first, "update", "heartbeat", token, "");
  ASSERT_EQ(beat.http_status, 200) << beat.error;
  first.Cleanup();

  // A new plugin process on the same storage: the heartbeat was kept.
  OtherPlugin restarted = StartOnStorage(mounts.storage);
  ASSERT_NE(restarted.mount, nullptr);
  Mount& second = *restarted.mount;
  // (Times are whole seconds: with a 3 s heartbeat_ttl, 2.4 s after
  // issuance and 1.2 s after the beat it is alive whatever the fractions;
  // 3.2 s after the beat the next one was due.)
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(CallMount(second, "update", "introspect", token, "").data["active"], true);
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  EXPECT_EQ(CallMount(second, "update", "introspect", token, "").data, kInactive);
  EXPECT_EQ(CallMount(second, "update", "heartbeat", token, "").http_status, 400);
  EXPECT_EQ(CallMount(second, "update", "introspect", token, "").data, kInactive);
  second.Cleanup();
  (void)restarted.host->Shutdown();
}

}  // namespace
}  // namespace taskcred::test
