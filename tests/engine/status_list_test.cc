// The Token Status List through the engine (design.md, "Revocation that
// offline verifiers see"): the status claim of JWT credentials, the signed
// list at status/<list_id>, the bit set by every way a task ends, the
// once-a-second re-signing, what a second node serves after InvalidateKey,
// and tidy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "status_list_util.h"
#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

class StatusListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.Write("config", {{"issuer", "https://vault.example/v1/taskcred/"}}).ok());
    ASSERT_TRUE(h_.Write("roles/job", {{"task", "job"}, {"grants", {"read kv://db1/user"}}, {"ttl", 600}}).ok());
    ASSERT_TRUE(
        h_.Write("roles/once", {{"task", "job"}, {"grants", {"read kv://db1/user"}}, {"ttl", 600}, {"max_uses", 1}}).ok());
  }
  EngineHarness h_;
};

TEST_F(StatusListTest, EveryJwtNamesASlotInAListServedSignedAndRaw) {
  logical::Response issued = Issue(h_, "creds/job");
  StatusRef ref = StatusOf(issued.data["credential"]);
  EXPECT_EQ(ref.uri, "https://vault.example/v1/taskcred/status/" + ref.list_id);
  // The list of the credential's horizon hour, as its task id.
  EXPECT_EQ(ref.list_id.substr(0, 8), issued.data["task_id"].get<std::string>().substr(0, 8));
  json task = DataOf(h_.Read("tasks/" + issued.data["task_id"].get<std::string>()));
  EXPECT_EQ(task["status"], (json{{"status_list", ref.list_id}, {"idx", ref.idx}}));

  ServedList list = Serve(h_, ref.list_id);
  EXPECT_EQ(list.header["typ"], "statuslist+jwt");
  EXPECT_TRUE(list.header.contains("kid"));
  EXPECT_EQ(list.claims["sub"], ref.uri);
  EXPECT_EQ(list.claims["iat"], h_.now());
  EXPECT_EQ(list.claims["ttl"], 60);
  EXPECT_EQ(list.claims["exp"], h_.now() + 120);
  EXPECT_EQ(list.cache_control, "max-age=60");
  EXPECT_EQ(list.bits.capacity(), 65536u);
  EXPECT_FALSE(list.bits.Get(ref.idx));
  EXPECT_THAT(ListKeys(h_, "status/"), ::testing::ElementsAre(ref.list_id));
}

TEST_F(StatusListTest, RevokeReleaseAndTheLastUseEachSetTheirBitAndNoOther) {
  logical::Response revoked = Issue(h_, "creds/job");
  logical::Response released = Issue(h_, "creds/job");
  logical::Response spent = Issue(h_, "creds/once");
  logical::Response live = Issue(h_, "creds/job");
  ASSERT_TRUE(h_.Revoke(*revoked.secret).ok());
  ASSERT_TRUE(h_.Write("release", {{"token", released.data["credential"]}}).ok());
  EXPECT_EQ(h_.Introspect(spent.data["credential"], {{"consume", true}})["active"], true);

  StatusRef live_ref = StatusOf(live.data["credential"]);
  ServedList list = Serve(h_, live_ref.list_id);
  int set = 0;
  for (uint32_t i = 0; i < list.bits.capacity(); ++i) set += list.bits.Get(i) ? 1 : 0;
  EXPECT_EQ(set, 3);
  for (const logical::Response* r : {&revoked, &released, &spent}) {
    StatusRef ref = StatusOf(r->data["credential"]);
    ASSERT_EQ(ref.list_id, live_ref.list_id);  // same hour, same list
    EXPECT_TRUE(list.bits.Get(ref.idx));
  }
  EXPECT_FALSE(list.bits.Get(live_ref.idx));
  // A second revoke (Vault retries) changes nothing.
  ASSERT_TRUE(h_.Revoke(*revoked.secret).ok());
  h_.Advance(1);
  int again = 0;
  ServedList same = Serve(h_, live_ref.list_id);
  for (uint32_t i = 0; i < same.bits.capacity(); ++i) again += same.bits.Get(i) ? 1 : 0;
  EXPECT_EQ(again, 3);
}

TEST_F(StatusListTest, AChangedListIsSignedAgainAtMostOnceASecond) {
  logical::Response a = Issue(h_, "creds/job");
  logical::Response b = Issue(h_, "creds/job");
  StatusRef ref = StatusOf(a.data["credential"]);
  std::string first = Serve(h_, ref.list_id).claims.dump();
  ASSERT_TRUE(h_.Revoke(*a.secret).ok());
  // Same second: the copy signed before the revocation.
  ServedList cached = Serve(h_, ref.list_id);
  EXPECT_EQ(cached.claims.dump(), first);
  EXPECT_FALSE(cached.bits.Get(ref.idx));
  h_.Advance(1);
  ServedList fresh = Serve(h_, ref.list_id);
  EXPECT_TRUE(fresh.bits.Get(ref.idx));
  EXPECT_EQ(fresh.claims["iat"], h_.now());
  // Unchanged bits: the same signed copy, until it is ttl old.
  h_.Advance(30);
  EXPECT_EQ(Serve(h_, ref.list_id).claims["iat"], h_.now() - 30);
  h_.Advance(30);
  EXPECT_EQ(Serve(h_, ref.list_id).claims["iat"], h_.now());
  (void)b;
}

TEST_F(StatusListTest, ASecondNodeServesWhatStorageHoldsAfterInvalidateKey) {
  // Two backends on one storage: the active node writes, a performance
  // standby serves lists from what it reads and is told of writes by
  // InvalidateKey.
  EngineHarness standby(std::shared_ptr<logical::Storage>(&h_.storage(), [](logical::Storage*) {}));
  standby.SetNow(h_.now());
  logical::Response issued = Issue(h_, "creds/job");
  StatusRef ref = StatusOf(issued.data["credential"]);
  EXPECT_FALSE(Serve(standby, ref.list_id).bits.Get(ref.idx));

  ASSERT_TRUE(h_.Revoke(*issued.secret).ok());
  h_.Advance(5);
  standby.Advance(5);
  // Not told yet: its cached page says valid.
  EXPECT_FALSE(Serve(standby, ref.list_id).bits.Get(ref.idx));
  const std::string page_key = "status/" + ref.list_id + "/bits/" + std::to_string(ref.idx / 8192);
  ASSERT_TRUE(h_.storage().Get(page_key)->has_value());
  standby.backend().InvalidateKey(page_key);
  EXPECT_TRUE(Serve(standby, ref.list_id).bits.Get(ref.idx));
}

TEST_F(StatusListTest, OffMeansNoClaimAndOpaqueCredentialsHaveNone) {
  ASSERT_TRUE(h_.Write("config", {{"status_list", false}}).ok());
  std::string jwt = Issue(h_, "creds/job").data["credential"];
  EXPECT_FALSE(crypto::DecodeJwt(jwt)->claims.contains("status"));
  EXPECT_THAT(ListKeys(h_, "status/"), ::testing::IsEmpty());
  ASSERT_TRUE(h_.Write("config", {{"status_list", true}}).ok());
  ASSERT_TRUE(h_.Write("roles/opaque", {{"task", "job"}, {"grants", {"read kv://db1/user"}},
                                        {"credential_type", "opaque"}})
                  .ok());
  json opaque = Issue(h_, "creds/opaque").data;
  EXPECT_FALSE(DataOf(h_.Read("tasks/" + opaque["task_id"].get<std::string>())).contains("status"));
  EXPECT_THAT(ListKeys(h_, "status/"), ::testing::IsEmpty());
}

TEST_F(StatusListTest, ConfigFieldsReadBackAndBadTtlsAreRefused) {
  json d = DataOf(h_.Read("config"));
  EXPECT_EQ(d["status_list"], true);
  EXPECT_EQ(d["status_list_ttl"], 60);
  ASSERT_TRUE(h_.Write("config", {{"status_list_ttl", "5m"}}).ok());
  EXPECT_EQ(DataOf(h_.Read("config"))["status_list_ttl"], 300);
  ExpectInvalid(h_.Write("config", {{"status_list_ttl", 0}}), "status_list_ttl");
  ExpectInvalid(h_.Write("config", {{"status_list_ttl", "25h"}}), "status_list_ttl");
  ExpectInvalid(h_.Write("config", {{"status_list", "maybe"}}), "status_list");
  EXPECT_EQ(DataOf(h_.Read("config"))["status_list_ttl"], 300);  // nothing half-written
  // The new ttl reaches the list.
  StatusRef ref = StatusOf(Issue(h_, "creds/job").data["credential"]);
  ServedList list = Serve(h_, ref.list_id);
  EXPECT_EQ(list.claims["ttl"], 300);
  EXPECT_EQ(list.cache_control, "max-age=300");
}

TEST_F(StatusListTest, UnknownListsAreNotFoundAndTidyDeletesListsOfPastHours) {
  auto missing = h_.Read("status/00000001-0");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_FALSE(h_.Read("status/not-a-list").ok() && h_.Read("status/not-a-list")->has_value());

  StatusRef ref = StatusOf(Issue(h_, "creds/job").data["credential"]);
  h_.Advance(3600);  // expired, but within tidy's margin
  json counts = DataOf(h_.Write("tidy"));
  EXPECT_EQ(counts["status_lists_deleted"], 0);
  EXPECT_EQ(Serve(h_, ref.list_id).bits.capacity(), 65536u);
  h_.Advance(2 * 3600);
  counts = DataOf(h_.Write("tidy"));
  EXPECT_EQ(counts["status_lists_deleted"], 1);
  EXPECT_THAT(ListKeys(h_, "status/"), ::testing::IsEmpty());
  auto gone = h_.Read("status/" + ref.list_id);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

}  // namespace
}  // namespace taskcred::test
