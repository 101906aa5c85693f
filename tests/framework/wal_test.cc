// WAL entries and the rollback operation (periodic function + WAL rollback).
#include "framework/wal.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/backend.h"
#include "test_util.h"

namespace taskcred::framework {
namespace {

using common::ErrorKind;
using common::Status;
using logical::Operation;
using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

const TimePoint kNow = TimePoint(seconds(1'700'000'000));

TEST(WALTest, PutGetListDelete) {
  logical::InmemStorage storage;
  common::Result<std::string> id = PutWAL(storage, "user", {{"name", "u1"}}, kNow);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size(), 36u);
  EXPECT_EQ((*id)[14], '4');  // version-4 UUID

  common::Result<std::optional<logical::StorageEntry>> raw = storage.Get("wal/" + *id);
  ASSERT_TRUE(raw.ok() && raw->has_value());
  json stored = json::parse((*raw)->value);
  EXPECT_EQ(stored, json({{"type", "user"}, {"data", {{"name", "u1"}}}, {"created_at", 1'700'000'000}}));

  common::Result<std::optional<WALEntry>> entry = GetWAL(storage, *id);
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->id, *id);
  EXPECT_EQ((*entry)->kind, "user");
  EXPECT_EQ((*entry)->data["name"], "u1");
  EXPECT_EQ((*entry)->created_at, 1'700'000'000);

  EXPECT_EQ(*ListWAL(storage), std::vector<std::string>{*id});
  ASSERT_TRUE(DeleteWAL(storage, *id).ok());
  EXPECT_FALSE(GetWAL(storage, *id)->has_value());
  EXPECT_TRUE(ListWAL(storage)->empty());
}

TEST(WALTest, CorruptEntryIsInternal) {
  logical::InmemStorage storage;
  ASSERT_TRUE(storage.Put({.key = "wal/x", .value = "not json"}).ok());
  EXPECT_KIND(GetWAL(storage, "x").status(), ErrorKind::kInternal);
}

TEST(WALTest, UUIDsDiffer) { EXPECT_NE(GenerateUUID(), GenerateUUID()); }

class RollbackTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> Make(bool with_periodic, bool with_wal) {
    BackendSpec spec;
    spec.clock = [] { return kNow; };
    spec.wal_rollback_min_age = minutes(5);
    if (with_periodic) {
      spec.periodic = [this](logical::Request&) {
        ++periodic_runs_;
        return periodic_status_;
      };
    }
    if (with_wal) {
      spec.wal_rollback = [this](logical::Request&, const std::string& kind, const json& data) {
        rolled_back_.push_back(kind + ":" + data.value("name", ""));
        if (data.value("fail", false)) return Status::Unavailable("upstream down");
        return Status::Ok();
      };
    }
    auto b = Backend::Create(std::move(spec));
    EXPECT_TRUE(b.ok());
    return std::move(*b);
  }

  logical::HandlerResult Rollback(Backend& b, json data = json::object()) {
    logical::Request req = env_.Make(Operation::kRollback, "", std::move(data));
    return b.HandleRequest(req);
  }

  test::RequestEnv env_;
  int periodic_runs_ = 0;
  Status periodic_status_;
  std::vector<std::string> rolled_back_;
};

TEST_F(RollbackTest, NothingConfiguredIsNoResponseNoError) {
  auto b = Make(false, false);
  logical::HandlerResult r = Rollback(*b);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST_F(RollbackTest, RunsPeriodicAndReportsItsError) {
  auto b = Make(true, false);
  ASSERT_TRUE(Rollback(*b).ok());
  EXPECT_EQ(periodic_runs_, 1);
  periodic_status_ = Status::Unavailable("tidy failed");
  logical::HandlerResult r = Rollback(*b);
  EXPECT_KIND(r.status(), ErrorKind::kInternal);
  EXPECT_EQ(r.status().message(), "tidy failed");
  EXPECT_EQ(periodic_runs_, 2);
}

TEST_F(RollbackTest, OnlyOldEntriesAreRolledBack) {
  auto b = Make(true, true);
  std::string old_id = *PutWAL(env_.storage, "user", {{"name", "old"}}, kNow - minutes(6));
  std::string young_id = *PutWAL(env_.storage, "user", {{"name", "young"}}, kNow - minutes(4));
  logical::HandlerResult r = Rollback(*b);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(periodic_runs_, 1);
  EXPECT_EQ(rolled_back_, std::vector<std::string>{"user:old"});
  EXPECT_FALSE(GetWAL(env_.storage, old_id)->has_value());
  EXPECT_TRUE(GetWAL(env_.storage, young_id)->has_value());

  // "immediate" rolls back everything.
  r = Rollback(*b, {{"immediate", true}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(rolled_back_, (std::vector<std::string>{"user:old", "user:young"}));
  EXPECT_TRUE(ListWAL(env_.storage)->empty());
}

TEST_F(RollbackTest, FailedRollbackKeepsTheEntryAndReportsIt) {
  auto b = Make(false, true);
  std::string bad = *PutWAL(env_.storage, "user", {{"name", "bad"}, {"fail", true}}, kNow - minutes(60));
  std::string good = *PutWAL(env_.storage, "user", {{"name", "good"}}, kNow - minutes(60));
  logical::HandlerResult r = Rollback(*b);
  ASSERT_FALSE(r.ok());
  EXPECT_KIND(r.status(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "error rolling back \"user\" entry: upstream down");
  EXPECT_TRUE(GetWAL(env_.storage, bad)->has_value());
  EXPECT_FALSE(GetWAL(env_.storage, good)->has_value());
  EXPECT_EQ(rolled_back_.size(), 2u);
}

TEST_F(RollbackTest, DefaultMinimumAgeIsTenMinutes) {
  BackendSpec spec;
  spec.clock = [] { return kNow; };
  spec.wal_rollback = [this](logical::Request&, const std::string& kind, const json&) {
    rolled_back_.push_back(kind);
    return Status::Ok();
  };
  auto b = Backend::Create(std::move(spec));
  ASSERT_TRUE(b.ok());
  (void)*PutWAL(env_.storage, "nine", json::object(), kNow - minutes(9));
  (void)*PutWAL(env_.storage, "eleven", json::object(), kNow - minutes(11));
  ASSERT_TRUE(Rollback(**b).ok());
  EXPECT_EQ(rolled_back_, std::vector<std::string>{"eleven"});
}

TEST_F(RollbackTest, ThrowingRollbackIsContained) {
  BackendSpec spec;
  spec.clock = [] { return kNow; };
  spec.wal_rollback = [](logical::Request&, const std::string&, const json&) -> Status {
    throw std::runtime_error("boom");
  };
  auto b = Backend::Create(std::move(spec));
  ASSERT_TRUE(b.ok());
  std::string id = *PutWAL(env_.storage, "k", json::object(), kNow - minutes(60));
  logical::HandlerResult r = Rollback(**b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("internal error, id "), std::string::npos) << r.status().message();
  EXPECT_TRUE(GetWAL(env_.storage, id)->has_value());
}

}  // namespace
}  // namespace taskcred::framework
