#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

// Records every List prefix.
class CountingStorage : public logical::InmemStorage {
 public:
  common::Result<std::vector<std::string>> List(std::string_view prefix) override {
    {
      std::lock_guard lock(mu_);
      lists_.emplace_back(prefix);
    }
    return InmemStorage::List(prefix);
  }
  std::vector<std::string> TakeLists() {
    std::lock_guard lock(mu_);
    return std::exchange(lists_, {});
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lists_;
};

std::string Bucket(int64_t t) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "expiry/%012lld/", static_cast<long long>(t - t % 3600));
  return buf;
}

class TidyTest : public ::testing::Test {
 protected:
  TidyTest() : storage_(std::make_shared<CountingStorage>()), h_(storage_) {}
  void SetUp() override {
    ASSERT_TRUE(h_.Write("roles/short", {{"task", "t"}, {"grants", {"read kv://a/b"}}, {"ttl", 600}}).ok());
    ASSERT_TRUE(h_.Write("roles/long", {{"task", "t"}, {"grants", {"read kv://a/b"}}, {"ttl", "20h"}}).ok());
    ASSERT_TRUE(h_.Write("roles/renew", {{"task", "t"},
                                         {"grants", {"read kv://a/b"}},
                                         {"credential_type", "opaque"},
                                         {"renewable", true},
                                         {"ttl", 600},
                                         {"max_ttl", 7200}})
                    .ok());
  }

  json Tidy() { return DataOf(h_.Write("tidy")); }
  // Ids of the stored task records, live or not.
  json Stored() { return ListKeys(h_, "tasks/", {{"include_ended", true}}); }

  std::shared_ptr<CountingStorage> storage_;
  EngineHarness h_;
};

TEST_F(TidyTest, RemovesOnlyRecordsPastExpiryPlusMargin) {
  const int64_t t0 = h_.now();
  for (int i = 0; i < 3; ++i) Issue(h_, "creds/short");
  json keep = Issue(h_, "creds/long").data;
  h_.SetNow(t0 + 600 + 3600 - 1);  // expired, but inside the safety margin
  EXPECT_EQ(Tidy()["tasks_deleted"], 0);
  EXPECT_EQ(Stored().size(), 4u);
  h_.SetNow(t0 + 3600 + 3600);  // the whole first bucket is past expiry + margin
  json counts = Tidy();
  EXPECT_EQ(counts["tasks_deleted"], 3);
  EXPECT_EQ(counts["index_entries_deleted"], 3);
  EXPECT_EQ(counts["buckets_scanned"], 1);
  EXPECT_EQ(Stored(), json({keep["task_id"]}));
  EXPECT_EQ(Tidy()["tasks_deleted"], 0);  // nothing left to do
}

TEST_F(TidyTest, ListsOnlyTheExpiredBuckets) {
  const int64_t t0 = h_.now();
  Issue(h_, "creds/short");
  Issue(h_, "creds/long");
  h_.SetNow(t0 + 2 * 3600);
  storage_->TakeLists();
  Tidy();
  EXPECT_EQ(storage_->TakeLists(), (std::vector<std::string>{"expiry/", Bucket(t0 + 600)}));
}

TEST_F(TidyTest, RenewedRecordMovesToItsNewBucket) {
  const int64_t t0 = h_.now();
  logical::Response resp = Issue(h_, "creds/renew");
  ASSERT_TRUE(resp.secret.has_value());
  h_.SetNow(t0 + 500);
  ASSERT_TRUE(h_.Renew(*resp.secret, std::chrono::seconds(7000)).ok());  // capped at t0 + 7200
  h_.SetNow(t0 + 2 * 3600);
  json counts = Tidy();
  EXPECT_EQ(counts["tasks_deleted"], 0);
  EXPECT_EQ(counts["index_entries_deleted"], 1);  // the stale entry of the old bucket
  EXPECT_EQ(Stored().size(), 1u);
  h_.SetNow(t0 + 7200 + 3600 + 3600);
  EXPECT_EQ(Tidy()["tasks_deleted"], 1);
  EXPECT_EQ(Stored(), json::array());
}

TEST_F(TidyTest, PeriodicHookTidiesToo) {
  const int64_t t0 = h_.now();
  Issue(h_, "creds/short");
  h_.SetNow(t0 + 3 * 3600);
  ASSERT_TRUE(h_.Periodic().ok());
  EXPECT_EQ(Stored(), json::array());
}

TEST_F(TidyTest, RevokedRecordsStayUntilTheirExpiryPassesTheMargin) {
  const int64_t t0 = h_.now();
  logical::Response resp = Issue(h_, "creds/long");
  ASSERT_TRUE(h_.Revoke(*resp.secret).ok());
  h_.SetNow(t0 + 2 * 3600);
  EXPECT_EQ(Tidy()["tasks_deleted"], 0);
  EXPECT_EQ(DataOf(h_.Read("tasks/" + resp.data["task_id"].get<std::string>()))["revoked"], true);
  h_.SetNow(t0 + 20 * 3600 + 2 * 3600);
  EXPECT_EQ(Tidy()["tasks_deleted"], 1);
}

}  // namespace
}  // namespace taskcred::test
