#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "crypto/jwt.h"
#include "crypto/random.h"
#include "crypto/signing_key.h"
#include "harness/task_layout.h"
#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

const json kInactive = {{"active", false}};

// Yields inside Get so racing read-modify-write sequences interleave often
// (widens the race window; not used for synchronisation).
class YieldingStorage : public logical::InmemStorage {
 public:
  common::Result<std::optional<logical::StorageEntry>> Get(std::string_view key) override {
    auto entry = InmemStorage::Get(key);
    for (int i = 0; i < 50; ++i) std::this_thread::yield();
    return entry;
  }
};

// Counts storage calls, to hold the engine to the round trips the design
// needs (through Vault every call is a broker round trip).
class CountingStorage : public logical::InmemStorage {
 public:
  common::Result<std::optional<logical::StorageEntry>> Get(std::string_view key) override {
    ++gets;
    return InmemStorage::Get(key);
  }
  common::Status Put(const logical::StorageEntry& entry) override {
    ++puts;
    return InmemStorage::Put(entry);
  }
  std::atomic<int> gets{0};
  std::atomic<int> puts{0};
};

struct RoundTripCase {
  json extra;
  int gets, puts;
};

// Issues one credential per role and checks the storage calls of each kind
// of introspection, then of release.
void ExpectRoundTrips(CountingStorage& storage, EngineHarness& h, const std::vector<RoundTripCase>& cases,
                      int release_gets) {
  ASSERT_TRUE(h.Write("roles/jwt", {{"task", "job"}, {"grants", {"read kv://db1/user"}}, {"max_uses", 5}}).ok());
  ASSERT_TRUE(h.Write("roles/opaque", {{"task", "job"},
                                       {"grants", {"read kv://db1/user"}},
                                       {"credential_type", "opaque"},
                                       {"max_uses", 5}})
                  .ok());
  for (const char* role : {"creds/jwt", "creds/opaque"}) {
    SCOPED_TRACE(role);
    std::string token = Issue(h, role).data["credential"];
    (void)h.Introspect(token);  // warms the config and key caches
    for (const RoundTripCase& c : cases) {
      SCOPED_TRACE(c.extra.dump());
      storage.gets = 0;
      storage.puts = 0;
      json a = h.Introspect(token, c.extra);
      EXPECT_EQ(a["active"], true);
      EXPECT_EQ(storage.gets.load(), c.gets);
      EXPECT_EQ(storage.puts.load(), c.puts);
    }
    storage.gets = 0;
    storage.puts = 0;
    auto r = h.Write("release", {{"token", token}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    // A JWT's release also sets its status list bit: one more write, and the
    // read of its page (not cached yet).
    const bool jwt = std::string_view(role) == "creds/jwt";
    EXPECT_EQ(storage.gets.load(), release_gets + (jwt ? 1 : 0));
    EXPECT_EQ(storage.puts.load(), jwt ? 2 : 1);
    EXPECT_EQ(h.Introspect(token), kInactive);
  }
}

TEST(IntrospectRoundTrips, AKnownTaskIsCheckedWithoutStorageAndSpentWithOnePut) {
  auto storage = std::make_shared<CountingStorage>();
  EngineHarness h(storage);
  ExpectRoundTrips(*storage, h,
                   {{json::object(), 0, 0},
                    {{{"resource", "kv://db1/user"}, {"action", "read"}}, 0, 0},
                    {{{"consume", true}}, 0, 1},
                    {{{"consume", true}, {"resource", "kv://db1/other"}, {"action", "read"}}, 0, 0}},
                   0);
}

TEST(IntrospectRoundTrips, WithoutTheCacheEachCheckReadsTheRecord) {
  auto storage = std::make_shared<CountingStorage>();
  EngineHarness h(storage, {{"task_cache_size", "0"}});
  ExpectRoundTrips(*storage, h,
                   {{json::object(), 1, 0},
                    {{{"resource", "kv://db1/user"}, {"action", "read"}}, 1, 0},
                    {{{"consume", true}}, 1, 1},
                    {{{"consume", true}, {"resource", "kv://db1/other"}, {"action", "read"}}, 1, 0}},
                   1);
}

TEST(IntrospectRoundTrips, InvalidateKeyDropsTheCachedRecord) {
  auto storage = std::make_shared<CountingStorage>();
  EngineHarness h(storage);
  ASSERT_TRUE(h.Write("roles/jwt", {{"task", "job"}, {"grants", {"read kv://db1/user"}}, {"max_uses", 5}}).ok());
  json d = Issue(h, "creds/jwt").data;
  const std::string token = d["credential"], id = d["task_id"];
  EXPECT_EQ(h.Introspect(token)["active"], true);
  // Another node (this one is a performance standby) spends a use: the
  // record changes in storage and Vault sends InvalidateKey.
  auto stored = storage->Get(TaskRecordKey(id));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  json record = json::parse((*stored)->value);
  record["uses"] = 4;
  ASSERT_TRUE(storage->Put({TaskRecordKey(id), record.dump(), false}).ok());
  EXPECT_EQ(h.Introspect(token)["uses_remaining"], 5);  // the cached copy, until told
  h.backend().InvalidateKey(TaskRecordKey(id));
  storage->gets = 0;
  EXPECT_EQ(h.Introspect(token)["uses_remaining"], 1);
  EXPECT_EQ(storage->gets.load(), 1);
  storage->gets = 0;
  EXPECT_EQ(h.Introspect(token)["uses_remaining"], 1);
  EXPECT_EQ(storage->gets.load(), 0);  // cached again
}

TEST(IntrospectRoundTrips, BadCacheSizeOptionFailsTheMount) {
  for (const char* bad : {"-1", "x", "1000001", "12abc"}) {
    logical::BackendConfig config;
    config.config = {{"task_cache_size", bad}};
    auto backend = engine::NewBackend(config, engine::EngineOptions{});
    ASSERT_FALSE(backend.ok()) << bad;
    EXPECT_NE(backend.status().message().find("task_cache_size"), std::string::npos);
  }
}

class IntrospectTest : public ::testing::Test {
 protected:
  IntrospectTest() : h_(std::make_shared<YieldingStorage>()) {}

  void SetUp() override {
    ASSERT_TRUE(h_.Write("roles/jwt", {{"task", "job"},
                                       {"grants", {"read,write s3://b/data/*", "read kv://db1/user"}},
                                       {"ttl", 600},
                                       {"max_ttl", 1800},
                                       {"audience", "svc"}})
                    .ok());
    ASSERT_TRUE(
        h_.Write("roles/once", {{"task", "job"}, {"grants", {"read kv://db1/user"}}, {"max_uses", 1}}).ok());
    ASSERT_TRUE(h_.Write("roles/opaque", {{"task", "job"},
                                          {"grants", {"read kv://db1/user"}},
                                          {"credential_type", "opaque"},
                                          {"renewable", true},
                                          {"ttl", 600},
                                          {"max_ttl", 1000}})
                    .ok());
  }

  EngineHarness h_;
};

TEST_F(IntrospectTest, ActiveJwtAnswer) {
  h_.entity_id = "ent-1";
  json d = Issue(h_, "creds/jwt").data;
  json a = h_.Introspect(d["credential"]);
  EXPECT_EQ(a, (json{{"active", true},
                     {"iss", "vault-taskcred"},
                     {"task", "job"},
                     {"task_id", d["task_id"]},
                     {"role", "jwt"},
                     {"grants", d["grants"]},
                     {"sub", "ent-1"},
                     {"aud", {"svc"}},
                     {"exp", h_.now() + 600},
                     {"iat", h_.now()},
                     {"credential_type", "jwt"}}));
}

TEST_F(IntrospectTest, OpaqueIsActiveAndCountsUses) {
  json d = Issue(h_, "creds/opaque").data;
  json a = h_.Introspect(d["credential"]);
  EXPECT_EQ(a["active"], true);
  EXPECT_FALSE(a.contains("uses_remaining"));  // unlimited
  json once = Issue(h_, "creds/once").data;
  EXPECT_EQ(h_.Introspect(once["credential"])["uses_remaining"], 1);
  EXPECT_EQ(h_.Introspect(once["credential"], {{"consume", true}})["uses_remaining"], 0);
  EXPECT_EQ(h_.Introspect(once["credential"]), kInactive);  // spent
}

TEST_F(IntrospectTest, EveryInactiveCaseAnswersActiveFalseAlone) {
  json jwt = Issue(h_, "creds/jwt").data;
  std::string token = jwt["credential"];
  std::vector<std::pair<std::string, std::string>> cases;
  cases.emplace_back("garbage", "hello");
  cases.emplace_back("malformed", "a.b.c");
  cases.emplace_back("empty parts", "..");
  {
    std::string t = token;
    size_t mid = t.rfind('.') + 10;
    t[mid] = t[mid] == 'A' ? 'B' : 'A';
    cases.emplace_back("bad signature", t);
  }
  {
    auto decoded = crypto::DecodeJwt(token);
    ASSERT_TRUE(decoded.ok());
    json claims = decoded->claims;
    auto key = crypto::SigningKey::Generate(crypto::Algorithm::kEdDSA);
    ASSERT_TRUE(key.ok());
    auto forged = crypto::SignJwt(*key, decoded->header["kid"].get<std::string>(), claims);
    ASSERT_TRUE(forged.ok());
    cases.emplace_back("foreign key with the real kid", *forged);
    forged = crypto::SignJwt(*key, key->Thumbprint(), claims);
    ASSERT_TRUE(forged.ok());
    cases.emplace_back("foreign key", *forged);
  }
  cases.emplace_back("opaque unknown", "tcop_" + crypto::NewUuid() + "_" + crypto::RandomToken(32));
  json opaque = Issue(h_, "creds/opaque").data;
  std::string op = opaque["credential"];
  cases.emplace_back("opaque wrong secret", op.substr(0, op.rfind('_') + 1) + crypto::RandomToken(32));
  cases.emplace_back("opaque truncated", op.substr(0, op.size() - 1));
  for (const auto& [name, t] : cases) {
    SCOPED_TRACE(name);
    EXPECT_EQ(h_.Introspect(t), kInactive);
  }
  EXPECT_EQ(h_.Introspect(token)["active"], true);  // the real one still is
  ExpectInvalid(h_.Write("introspect", json::object()), "token");
}

TEST_F(IntrospectTest, WrongIssuerIsInactive) {
  std::string token = Issue(h_, "creds/jwt").data["credential"];
  ASSERT_TRUE(h_.Write("config", {{"issuer", "someone-else"}}).ok());
  EXPECT_EQ(h_.Introspect(token), kInactive);
}

TEST_F(IntrospectTest, ExpiredIsInactive) {
  std::string jwt = Issue(h_, "creds/jwt").data["credential"];
  std::string opaque = Issue(h_, "creds/opaque").data["credential"];
  h_.Advance(599);
  EXPECT_EQ(h_.Introspect(jwt)["active"], true);
  EXPECT_EQ(h_.Introspect(opaque)["active"], true);
  h_.Advance(1);
  EXPECT_EQ(h_.Introspect(jwt), kInactive);
  EXPECT_EQ(h_.Introspect(opaque), kInactive);
}

TEST_F(IntrospectTest, RevokedIsInactiveAndRevokeIsIdempotent) {
  for (const char* role : {"creds/jwt", "creds/opaque"}) {
    SCOPED_TRACE(role);
    logical::Response resp = Issue(h_, role);
    ASSERT_TRUE(resp.secret.has_value());
    ASSERT_TRUE(h_.Revoke(*resp.secret).ok());
    EXPECT_EQ(h_.Introspect(resp.data["credential"]), kInactive);
    EXPECT_TRUE(h_.Revoke(*resp.secret).ok());
    EXPECT_EQ(DataOf(h_.Read("tasks/" + resp.data["task_id"].get<std::string>()))["revoked"], true);
  }
  logical::Secret gone;
  gone.internal_data = {
      {"secret_type", "taskcred_credential"}, {"task_id", crypto::NewUuid()}, {"role", "jwt"}};
  EXPECT_TRUE(h_.Revoke(gone).ok());  // an already-gone record is success
}

TEST_F(IntrospectTest, ReleaseMakesInactiveAndRevealsNothing) {
  std::string token = Issue(h_, "creds/jwt").data["credential"];
  auto r = h_.Write("release", {{"token", "not-a-token"}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  r = h_.Write("release", {{"token", token}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(h_.Introspect(token), kInactive);
  EXPECT_TRUE(h_.Write("release", {{"token", token}}).ok());  // idempotent
  ExpectInvalid(h_.Write("release", json::object()), "token");
}

TEST_F(IntrospectTest, DeletedRecordIsInactive) {
  json d = Issue(h_, "creds/jwt").data;
  EXPECT_EQ(h_.Introspect(d["credential"])["active"], true);
  // Deleted elsewhere (another node's tidy): Vault sends InvalidateKey.
  ASSERT_TRUE(h_.storage().Delete(TaskRecordKey(d["task_id"])).ok());
  h_.backend().InvalidateKey(TaskRecordKey(d["task_id"]));
  EXPECT_EQ(h_.Introspect(d["credential"]), kInactive);
}

// The verified-JWT cache remembers a signature's verdict, never what can
// change: expiry, the issuer, whether the kid is still published.
TEST_F(IntrospectTest, ARememberedJwtIsStillCheckedForWhatCanChange) {
  json d = Issue(h_, "creds/jwt").data;
  const std::string token = d["credential"];
  ASSERT_EQ(h_.Introspect(token)["active"], true);  // verified and remembered
  // Another signature over the same header and claims is not the token.
  std::string forged = token.substr(0, token.rfind('.') + 1) + "AAAA" + token.substr(token.rfind('.') + 5);
  EXPECT_EQ(h_.Introspect(forged), kInactive);
  // A new issuer deactivates it; the old one brings it back.
  json config = h_.Read("config")->value().data;
  const std::string issuer = config["issuer"];
  ASSERT_TRUE(h_.Write("config", {{"issuer", "https://other.example/v1/taskcred"}}).ok());
  EXPECT_EQ(h_.Introspect(token), kInactive);
  ASSERT_TRUE(h_.Write("config", {{"issuer", issuer}}).ok());
  EXPECT_EQ(h_.Introspect(token)["active"], true);
  // Rotated out but still published: still active.
  ASSERT_TRUE(h_.Write("rotate").ok());
  EXPECT_EQ(h_.Introspect(token)["active"], true);
  // Its key gone from the ring (a ring replaced elsewhere, then
  // InvalidateKey): no longer published, so no longer active.
  ASSERT_TRUE(h_.storage().Delete("keys/ring").ok());
  h_.backend().InvalidateKey("keys/ring");
  EXPECT_EQ(h_.Introspect(token), kInactive);
}

TEST_F(IntrospectTest, ARememberedJwtExpires) {
  json d = Issue(h_, "creds/jwt").data;
  const std::string token = d["credential"];
  ASSERT_EQ(h_.Introspect(token)["active"], true);
  h_.Advance(601);  // ttl 600
  EXPECT_EQ(h_.Introspect(token), kInactive);
}

TEST_F(IntrospectTest, AllowedMatchesTheRenderedGrants) {
  std::string token = Issue(h_, "creds/jwt").data["credential"];
  struct Case {
    std::string resource, action;
    bool allowed;
  };
  for (const Case& c : std::vector<Case>{{"kv://db1/user", "read", true},
                                         {"kv://db1/user", "write", false},
                                         {"kv://db1/other", "read", false},
                                         {"s3://b/data/x", "write", true},
                                         {"s3://b/data/x/y", "read", false},
                                         {"s3://b/data/../secret", "read", false},
                                         {"s3://b/data", "read", false}}) {
    SCOPED_TRACE(c.resource + " " + c.action);
    json a = h_.Introspect(token, {{"resource", c.resource}, {"action", c.action}});
    EXPECT_EQ(a["active"], true);
    EXPECT_EQ(a["allowed"], c.allowed);
  }
  ExpectInvalid(h_.Write("introspect", {{"token", token}, {"resource", "kv://db1/user"}}), "action");
  ExpectInvalid(h_.Write("introspect", {{"token", token}, {"action", "read"}}), "resource");
}

TEST_F(IntrospectTest, ConsumeSpendsOnlyWhenAllowed) {
  std::string token = Issue(h_, "creds/once").data["credential"];
  json a = h_.Introspect(token, {{"consume", true}, {"resource", "kv://db1/other"}, {"action", "read"}});
  EXPECT_EQ(a["allowed"], false);
  EXPECT_EQ(a["uses_remaining"], 1);
  a = h_.Introspect(token, {{"consume", true}, {"resource", "kv://db1/user"}, {"action", "read"}});
  EXPECT_EQ(a["allowed"], true);
  EXPECT_EQ(a["uses_remaining"], 0);
  EXPECT_EQ(h_.Introspect(token, {{"consume", true}}), kInactive);
}

TEST_F(IntrospectTest, ConcurrentConsumersOfASingleUseCredentialGetExactlyOneActive) {
  for (const char* role : {"creds/once", "creds/opaque-once"}) {
    SCOPED_TRACE(role);
    if (std::string(role) == "creds/opaque-once") {
      ASSERT_TRUE(h_.Write("roles/opaque-once", {{"task", "job"},
                                                 {"grants", {"read kv://db1/user"}},
                                                 {"credential_type", "opaque"},
                                                 {"max_uses", 1}})
                      .ok());
    }
    std::string token = Issue(h_, role).data["credential"];
    constexpr int kThreads = 32;
    std::atomic<int> active{0};
    std::atomic<int> failed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        auto req =
            h_.NewRequest(logical::Operation::kUpdate, "introspect", {{"token", token}, {"consume", true}});
        auto r = h_.Handle(req);
        if (!r.ok() || !r->has_value()) {
          failed.fetch_add(1);
        } else if ((*r)->data["active"] == true) {
          active.fetch_add(1);
        }
      });
    }
    go.store(true);
    for (auto& t : threads) t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(active.load(), 1);
  }
}

TEST_F(IntrospectTest, RenewExtendsOpaqueButNeverPastMaxTtl) {
  logical::Response resp = Issue(h_, "creds/opaque");
  ASSERT_TRUE(resp.secret.has_value());
  EXPECT_TRUE(resp.secret->lease_options.renewable);
  std::string token = resp.data["credential"];
  h_.Advance(500);
  auto r = h_.Renew(*resp.secret);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->has_value() && (*r)->secret.has_value());
  EXPECT_EQ((*r)->secret->lease_options.ttl, std::chrono::seconds(500));  // 1000 max - 500 elapsed
  EXPECT_EQ((*r)->secret->internal_data["task_id"], resp.data["task_id"]);
  h_.Advance(400);  // past the original 600 expiry, inside the renewal
  EXPECT_EQ(h_.Introspect(token)["active"], true);
  EXPECT_EQ(h_.Introspect(token)["exp"], h_.now() - 900 + 1000);
  h_.Advance(100);
  EXPECT_EQ(h_.Introspect(token), kInactive);
  ExpectInvalid(h_.Renew(*resp.secret), "max_ttl");
}

TEST_F(IntrospectTest, JwtLeasesAreNotRenewable) {
  logical::Response resp = Issue(h_, "creds/jwt");
  ASSERT_TRUE(resp.secret.has_value());
  EXPECT_FALSE(resp.secret->lease_options.renewable);
  ExpectInvalid(h_.Renew(*resp.secret), "not renewable");
}

TEST_F(IntrospectTest, TasksListShowsLiveRunsUnlessAskedForEndedOnes) {
  json live = Issue(h_, "creds/jwt").data;
  logical::Response revoked = Issue(h_, "creds/jwt");
  ASSERT_TRUE(h_.Revoke(*revoked.secret).ok());
  auto r = h_.List("tasks/");
  json data = DataOf(r);
  EXPECT_EQ(data["keys"], json::array({live["task_id"]}));
  EXPECT_EQ(data["key_info"][live["task_id"].get<std::string>()]["role"], "jwt");
  EXPECT_EQ(data["key_info"][live["task_id"].get<std::string>()]["expires_at"], live["expires_at"]);
  EXPECT_EQ(ListKeys(h_, "tasks/", {{"include_ended", true}}).size(), 2u);
  h_.Advance(600);
  EXPECT_EQ(ListKeys(h_, "tasks/"), json::array());
}

TEST_F(IntrospectTest, TasksShowRunsWithoutCredentialOrHash) {
  json d = Issue(h_, "creds/opaque").data;
  std::string id = d["task_id"];
  EXPECT_EQ(ListKeys(h_, "tasks/"), json({id}));
  json t = DataOf(h_.Read("tasks/" + id));
  EXPECT_EQ(t["role"], "opaque");
  EXPECT_EQ(t["task"], "job");
  EXPECT_EQ(t["active"], true);
  EXPECT_EQ(t["revoked"], false);
  EXPECT_EQ(t["uses"], 0);
  EXPECT_TRUE(t["uses_remaining"].is_null());
  EXPECT_EQ(t["expires_at"], d["expires_at"]);
  std::string dumped = t.dump();
  EXPECT_EQ(dumped.find("token_hash"), std::string::npos);
  EXPECT_EQ(dumped.find(d["credential"].get<std::string>()), std::string::npos);
  auto missing = h_.Read("tasks/" + crypto::NewUuid());
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

}  // namespace
}  // namespace taskcred::test
