#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>

#include "crypto/random.h"
#include "harness/task_layout.h"
#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

// Records every List prefix and every Put key.
class CountingStorage : public logical::InmemStorage {
 public:
  common::Result<std::vector<std::string>> List(std::string_view prefix) override {
    {
      std::lock_guard lock(mu_);
      lists_.emplace_back(prefix);
    }
    return InmemStorage::List(prefix);
  }
  common::Status Put(const logical::StorageEntry& entry) override {
    {
      std::lock_guard lock(mu_);
      puts_.push_back(entry.key);
    }
    if (fail_puts) return common::Status::Unavailable("storage put failed (test)");
    return InmemStorage::Put(entry);
  }
  std::atomic<bool> fail_puts{false};
  std::vector<std::string> TakeLists() {
    std::lock_guard lock(mu_);
    return std::exchange(lists_, {});
  }
  std::vector<std::string> TakePuts() {
    std::lock_guard lock(mu_);
    return std::exchange(puts_, {});
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lists_;
  std::vector<std::string> puts_;
};

// The legacy expiry bucket folder of time t.
std::string Bucket(int64_t t) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "expiry/%012lld/", static_cast<long long>(t - t % 3600));
  return buf;
}

// The storage hour folder of time t: hours since the epoch, 8 hex digits.
std::string Hour(int64_t t) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "tasks/%08llx/", static_cast<long long>(t / 3600));
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

  // Rewrites an issued record as the engine wrote it before the hour layout:
  // a version-4 id at tasks/<id> plus its expiry marker. Returns the new id.
  std::string MakeLegacy(const json& issued) {
    const std::string id = issued["task_id"];
    auto stored = storage_->Get(TaskRecordKey(id));
    EXPECT_TRUE(stored.ok() && stored->has_value());
    if (!stored.ok() || !stored->has_value()) return "";
    json record = json::parse((*stored)->value);
    std::string legacy = crypto::NewUuid();
    record["task_id"] = legacy;
    EXPECT_TRUE(storage_->Delete(TaskRecordKey(id)).ok());
    EXPECT_TRUE(storage_->Put({Bucket(record["expires_at"].get<int64_t>()) + legacy, "", false}).ok());
    EXPECT_TRUE(storage_->Put({"tasks/" + legacy, record.dump(), false}).ok());
    h_.backend().InvalidateKey(TaskRecordKey(id));
    return legacy;
  }
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
  EXPECT_EQ(counts["index_entries_deleted"], 0);  // the hour layout has no index
  EXPECT_EQ(counts["buckets_scanned"], 1);
  EXPECT_EQ(Stored(), json::array({keep["task_id"]}));
  EXPECT_EQ(Tidy()["tasks_deleted"], 0);  // nothing left to do
}

TEST_F(TidyTest, ListsOnlyTheExpiredHours) {
  const int64_t t0 = h_.now();
  Issue(h_, "creds/short");
  Issue(h_, "creds/long");
  h_.SetNow(t0 + 2 * 3600);
  storage_->TakeLists();
  Tidy();
  // The status lists too: the list of that hour (its pages, to delete them), no other.
  const std::string hour = Hour(t0 + 600).substr(6, 8);
  EXPECT_EQ(storage_->TakeLists(), (std::vector<std::string>{"tasks/", Hour(t0 + 600), "expiry/", "status/",
                                                             "status/" + hour + "-0/bits/"}));
}

TEST_F(TidyTest, IssuanceIsOneStorageWriteAtTheHourOfItsExpiry) {
  const int64_t t0 = h_.now();
  Issue(h_, "creds/short");  // the first one also creates the key ring
  storage_->TakePuts();
  json d = Issue(h_, "creds/short").data;
  const std::string id = d["task_id"];
  EXPECT_EQ(storage_->TakePuts(), std::vector<std::string>{Hour(t0 + 600) + id});
  EXPECT_EQ(id.substr(0, 8), Hour(t0 + 600).substr(6, 8));
  EXPECT_EQ(id[14], '8') << "a version-8 UUID";
}

TEST_F(TidyTest, RenewableRecordLivesInTheHourOfItsMaxTtl) {
  const int64_t t0 = h_.now();
  logical::Response resp = Issue(h_, "creds/renew");
  ASSERT_TRUE(resp.secret.has_value());
  const std::string id = resp.data["task_id"];
  EXPECT_EQ("tasks/" + id.substr(0, 8) + "/", Hour(t0 + 7200));
  h_.SetNow(t0 + 500);
  storage_->TakePuts();
  ASSERT_TRUE(h_.Renew(*resp.secret, std::chrono::seconds(7000)).ok());  // capped at t0 + 7200
  EXPECT_EQ(storage_->TakePuts(), std::vector<std::string>{TaskRecordKey(id)}) << "a renewal is one write";
  h_.SetNow(t0 + 2 * 3600);
  json counts = Tidy();
  EXPECT_EQ(counts["tasks_deleted"], 0);
  EXPECT_EQ(Stored().size(), 1u);
  h_.SetNow(t0 + 7200 + 3600 + 3600);
  EXPECT_EQ(Tidy()["tasks_deleted"], 1);
  EXPECT_EQ(Stored(), json::array());
}

// Records written before the hour layout (version-4 ids at tasks/<id> with
// an expiry marker) are still read, listed, renewed and tidied.
TEST_F(TidyTest, LegacyRecordsKeepWorking) {
  const int64_t t0 = h_.now();
  const std::string legacy_short = MakeLegacy(Issue(h_, "creds/short").data);
  logical::Response renewable = Issue(h_, "creds/renew");
  ASSERT_TRUE(renewable.secret.has_value());
  const std::string legacy_renew = MakeLegacy(renewable.data);
  const std::string current = Issue(h_, "creds/long").data["task_id"];
  ASSERT_FALSE(legacy_short.empty());
  ASSERT_EQ(TaskRecordKey(legacy_short), "tasks/" + legacy_short);

  std::vector<std::string> all = {legacy_short, legacy_renew, current};
  std::sort(all.begin(), all.end());
  EXPECT_EQ(Stored(), json(all));
  EXPECT_EQ(DataOf(h_.Read("tasks/" + legacy_short))["task_id"], legacy_short);

  // A legacy renewal still moves its marker to the new expiry's bucket.
  logical::Secret secret = *renewable.secret;
  secret.internal_data["task_id"] = legacy_renew;
  h_.SetNow(t0 + 500);
  storage_->TakePuts();
  ASSERT_TRUE(h_.Renew(secret, std::chrono::seconds(7000)).ok());
  EXPECT_EQ(storage_->TakePuts(),
            (std::vector<std::string>{Bucket(t0 + 7200) + legacy_renew, "tasks/" + legacy_renew}));

  // A marker whose record was never written (a failed legacy issuance).
  ASSERT_TRUE(storage_->Put({Bucket(t0 + 600) + crypto::NewUuid(), "", false}).ok());
  h_.SetNow(t0 + 3600 + 3600);
  json counts = Tidy();
  EXPECT_EQ(counts["tasks_deleted"], 1);          // legacy_short
  EXPECT_EQ(counts["index_entries_deleted"], 3);  // its marker, legacy_renew's stale one, the orphan
  h_.SetNow(t0 + 7200 + 3600 + 3600);
  counts = Tidy();
  EXPECT_EQ(counts["tasks_deleted"], 1);  // legacy_renew
  EXPECT_EQ(Stored(), json({current}));
}

// A task nothing confirmed (no renew or revoke from Vault, no use, no
// release) when it expires never reached anyone: tidy counts and logs it.
TEST_F(TidyTest, UnconfirmedTasksAreCountedAndLogged) {
  ASSERT_TRUE(h_.Write("roles/once", {{"task", "t"}, {"grants", {"read kv://a/b"}}, {"ttl", 600},
                                      {"max_uses", 1}}).ok());
  const int64_t t0 = h_.now();
  json lost = Issue(h_, "creds/short").data;
  logical::Response revoked = Issue(h_, "creds/short");
  json released = Issue(h_, "creds/short").data;
  json used = Issue(h_, "creds/once").data;
  logical::Response renewed = Issue(h_, "creds/renew");
  ASSERT_TRUE(revoked.secret.has_value() && renewed.secret.has_value());
  EXPECT_EQ(DataOf(h_.Read("tasks/" + lost["task_id"].get<std::string>()))["confirmed"], false);
  ASSERT_TRUE(h_.Revoke(*revoked.secret).ok());
  ASSERT_TRUE(h_.Write("release", {{"token", released["credential"]}}).ok());
  EXPECT_EQ(h_.Introspect(used["credential"], {{"consume", true}})["active"], true);
  ASSERT_TRUE(h_.Renew(*renewed.secret).ok());
  for (const json* d : {&revoked.data, &released, &used, &renewed.data}) {
    EXPECT_EQ(DataOf(h_.Read("tasks/" + (*d)["task_id"].get<std::string>()))["confirmed"], true);
  }
  EXPECT_EQ(DataOf(h_.Read("tasks/" + lost["task_id"].get<std::string>()))["confirmed"], false);
  EXPECT_EQ(DataOf(h_.Read("tasks/" + renewed.data["task_id"].get<std::string>()))["renewals"], 1);

  h_.SetNow(t0 + 7200 + 3600 + 3600);
  json counts = Tidy();
  EXPECT_EQ(counts["tasks_deleted"], 5);
  EXPECT_EQ(counts["unconfirmed_deleted"], 1);
  int warned = 0;
  for (const std::string& line : h_.sink().lines()) {
    if (line.find("never confirmed") == std::string::npos) continue;
    ++warned;
    json j = json::parse(line);
    EXPECT_EQ(j["task_id"], lost["task_id"]);
    EXPECT_EQ(j["@level"], "warn");
  }
  EXPECT_EQ(warned, 1);
}

// The issuance is logged before its record is written, so a process killed
// in between leaves a line naming the task; a failed write is logged too.
TEST_F(TidyTest, IssuanceIsLoggedBeforeItsWrite) {
  Issue(h_, "creds/short");  // creates the key ring
  storage_->fail_puts = true;
  auto r = h_.Read("creds/short");
  storage_->fail_puts = false;
  ASSERT_FALSE(r.ok());
  std::string issued_id, failed_id;
  for (const std::string& line : h_.sink().lines()) {
    json j = json::parse(line);
    if (j["@message"] == "credential issued") issued_id = j.value("task_id", "");
    if (j.value("@message", "").find("issuance failed") == 0) failed_id = j.value("task_id", "");
  }
  EXPECT_FALSE(issued_id.empty());
  EXPECT_EQ(failed_id, issued_id);
  EXPECT_EQ(Stored().size(), 1u) << "only the first issuance has a record";
}

TEST_F(TidyTest, TaskListPagesInIdOrderAcrossHoursAndLegacyRecords) {
  std::vector<std::string> all;
  for (const char* role : {"creds/short", "creds/long", "creds/renew", "creds/short", "creds/long"}) {
    all.push_back(Issue(h_, role).data["task_id"]);
  }
  all.push_back(MakeLegacy(Issue(h_, "creds/long").data));
  all.push_back(MakeLegacy(Issue(h_, "creds/short").data));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(Stored(), json(all));
  for (int limit : {1, 2, 3}) {
    std::vector<std::string> paged;
    std::string after;
    for (int pages = 0; pages < 10; ++pages) {
      json query = {{"include_ended", true}, {"limit", limit}};
      if (!after.empty()) query["after"] = after;
      json keys = ListKeys(h_, "tasks/", query);
      ASSERT_LE(keys.size(), static_cast<size_t>(limit));
      if (keys.empty()) break;
      for (const auto& k : keys) paged.push_back(k);
      after = paged.back();
    }
    EXPECT_EQ(paged, all) << "limit " << limit;
  }
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
