// Concurrency through the real plugin process: single-use consumption and
// parallel issuance, with requests from many host threads at once.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harness/task_layout.h"
#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

class PluginConcurrencyTest : public PluginSuite {
 protected:
  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    Ok("create", "roles/once", {{"task", "t"}, {"grants", "write s3://b/{{task_id}}"}, {"max_uses", 1}});
    Ok("create", "roles/once-opaque",
       {{"task", "t"}, {"grants", "write s3://b/x"}, {"max_uses", 1}, {"credential_type", "opaque"}});
    Ok("create", "roles/thrice", {{"task", "t"}, {"grants", "write s3://b/x"}, {"max_uses", 3}});
    Ok("create", "roles/many", {{"task", "t"}, {"grants", "read kv://x/{{task_id}}"}, {"ttl", 600}});
  }

  static void ExpectExactlyNConsumers(const std::string& role, int uses) {
    RequestResult issued = Issue("creds/" + role);
    ASSERT_EQ(issued.http_status, 200) << issued.error;
    const std::string token = issued.data["credential"];
    constexpr int kConsumers = 32;
    std::vector<RequestResult> answers(kConsumers);
    RunTogether(kConsumers, [&](int i) {
      RequestSpec spec;
      spec.operation = "update";
      spec.path = "introspect";
      spec.data = {{"token", token}, {"consume", true}};
      answers[i] = mount().HandleRequest(spec);
    });
    int active = 0, inactive = 0;
    for (const auto& a : answers) {
      ASSERT_TRUE(a.status.ok()) << a.status.error_message();
      ASSERT_EQ(a.http_status, 200) << a.error;
      if (a.data["active"] == true) {
        ++active;
        EXPECT_GE(a.data["uses_remaining"].get<int>(), 0);
      } else {
        ++inactive;
        EXPECT_EQ(a.data, json({{"active", false}}));
      }
    }
    EXPECT_EQ(active, uses);
    EXPECT_EQ(inactive, kConsumers - uses);
    json task = Ok("read", "tasks/" + issued.data["task_id"].get<std::string>());
    EXPECT_EQ(task["uses"], uses);
    EXPECT_EQ(task["active"], false);
  }
};

TEST_F(PluginConcurrencyTest, SingleUseJwtHasExactlyOneActiveConsumer) { ExpectExactlyNConsumers("once", 1); }

TEST_F(PluginConcurrencyTest, SingleUseOpaqueHasExactlyOneActiveConsumer) {
  ExpectExactlyNConsumers("once-opaque", 1);
}

TEST_F(PluginConcurrencyTest, ThreeUsesHaveExactlyThreeActiveConsumers) { ExpectExactlyNConsumers("thrice", 3); }

TEST_F(PluginConcurrencyTest, ParallelIssuanceYieldsDistinctRecordedTasks) {
  constexpr int kIssuers = 200;
  constexpr int kThreads = 16;
  std::vector<RequestResult> results(kIssuers);
  RunTogether(kThreads, [&](int t) {
    for (int i = t; i < kIssuers; i += kThreads) {
      RequestSpec spec;
      spec.operation = "read";
      spec.path = "creds/many";
      spec.deadline = std::chrono::seconds(30);
      results[i] = mount().HandleRequest(spec);
    }
  });
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    ASSERT_EQ(r.http_status, 200) << r.error;
    RecordSecret(r.data["credential"]);
    ids.insert(r.data["task_id"]);
    EXPECT_EQ(r.data["grants"][0]["resource"], "kv://x/" + r.data["task_id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kIssuers));
  for (const auto& id : ids) EXPECT_TRUE(mount().storage().Get(TaskRecordKey(id)).has_value()) << id;
  // The operators' list shows every one of them (other tests of the suite
  // may have added their own runs).
  json list = Ok("list", "tasks/", {{"include_ended", true}});
  std::set<std::string> listed;
  for (const auto& k : list["keys"]) listed.insert(k.get<std::string>());
  EXPECT_TRUE(std::includes(listed.begin(), listed.end(), ids.begin(), ids.end()));
}

}  // namespace
}  // namespace taskcred::test
