// Lifetimes and caches through the real binary: TTL bounding by mount tuning
// and verification_ttl, audience defaults, bind_entity, every algorithm,
// expiry + tidy (records aged directly in the host's storage), and
// InvalidateKey across two mounts sharing one storage.
#include <chrono>
#include <cstdio>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/jwt.h"
#include "harness/task_layout.h"
#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

constexpr int64_t kNs = 1000000000;

int64_t LeaseTtlSeconds(const RequestResult& r) { return r.reply.response().secret().lease_options().ttl() / kNs; }

class PluginLifetimeTest : public PluginSuite {
 protected:
  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    Ok("update", "config", {{"default_audience", "default-svc"}});
    Ok("create", "roles/mount-default", {{"task", "t"}, {"grants", "read kv://a/b"}});
    Ok("create", "roles/long", {{"task", "t"}, {"grants", "read kv://a/b"}, {"ttl", "2h"}, {"max_ttl", "3h"}});
    Ok("create", "roles/anon", {{"task", "t"}, {"grants", "read kv://a/b"}, {"bind_entity", false}});
    Ok("create", "roles/opaque-short",
       {{"task", "t"}, {"grants", "read kv://a/b"}, {"credential_type", "opaque"}, {"ttl", 60}});
  }
};

TEST_F(PluginLifetimeTest, JwtWithoutRoleTtlIsCappedByVerificationTtl) {
  // Mount default is Vault's 32 days; a JWT may not outlive verification_ttl (24 h).
  RequestResult r = Issue("creds/mount-default");
  EXPECT_EQ(LeaseTtlSeconds(r), 86400);
  EXPECT_EQ(r.reply.response().secret().lease_options().maxttl() / kNs, 86400);
  auto jwt = crypto::DecodeJwt(r.data["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["exp"].get<int64_t>() - jwt->claims["iat"].get<int64_t>(), 86400);
}

TEST_F(PluginLifetimeTest, MountTuningBoundsTheLease) {
  SystemViewConfig sv = mount().system_view().Get();
  SystemViewConfig tuned = sv;
  tuned.default_lease_ttl_ns = 300 * kNs;
  tuned.max_lease_ttl_ns = 1800 * kNs;
  mount().system_view().Set(tuned);
  RequestResult dflt = Issue("creds/mount-default");
  EXPECT_EQ(LeaseTtlSeconds(dflt), 300);
  RequestResult capped = Issue("creds/long");
  EXPECT_EQ(LeaseTtlSeconds(capped), 1800) << "role ttl 2h above the mount max of 30m";
  EXPECT_EQ(capped.reply.response().secret().lease_options().maxttl() / kNs, 1800);
  auto jwt = crypto::DecodeJwt(capped.data["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["exp"].get<int64_t>() - jwt->claims["iat"].get<int64_t>(), 1800);
  mount().system_view().Set(sv);
}

TEST_F(PluginLifetimeTest, AudienceDefaultsAndBindEntity) {
  RequestResult r = Issue("creds/anon", nullptr, "ent-x");
  EXPECT_EQ(r.data["audience"], json({"default-svc"}));
  auto jwt = crypto::DecodeJwt(r.data["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["aud"], json({"default-svc"}));
  EXPECT_EQ(jwt->claims["sub"], "task:" + r.data["task_id"].get<std::string>());
  EXPECT_EQ(Ok("read", "roles/anon")["audience"], json::array()) << "read back as written (no drift)";
}

TEST_F(PluginLifetimeTest, EveryAlgorithmSignsAfterItWasPublished) {
  for (const char* alg : {"ES256", "RS256", "EdDSA"}) {
    SCOPED_TRACE(alg);
    Ok("update", "config", {{"signing_algorithm", alg}});
    json jwks = RawBody(Call("read", "jwks"));
    ASSERT_GE(jwks["keys"].size(), 2u);
    EXPECT_EQ(jwks["keys"][1]["alg"], alg) << "the next key is replaced by one of the new algorithm";
    Ok("update", "rotate");
    RequestResult r = Issue("creds/anon");
    auto verified =
        crypto::DecodeAndVerifyJwt(r.data["credential"].get<std::string>(), RawBody(Call("read", "jwks")));
    ASSERT_TRUE(verified.ok()) << verified.status().ToString();
    EXPECT_EQ(verified->header["alg"], alg);
    EXPECT_EQ(Ok("update", "introspect", {{"token", r.data["credential"]}})["active"], true);
  }
}

// Ages a task record in the host's storage (in place) as if it had been
// issued `age` seconds ago.
void AgeRecord(const std::string& task_id, int64_t age) {
  auto stored = PluginSuite::mount().storage().Get(TaskRecordKey(task_id));
  ASSERT_TRUE(stored.has_value());
  json rec = json::parse(stored->value);
  for (const char* k : {"issued_at", "expires_at", "max_ttl_at"}) {
    if (rec.contains(k)) rec[k] = rec[k].get<int64_t>() - age;
  }
  PluginSuite::mount().storage().Put(TaskRecordKey(task_id), {rec.dump(), stored->seal_wrap});
  // Changed behind the plugin's back, as another node would: Vault then
  // tells the plugin, which drops its cached copy.
  ASSERT_TRUE(PluginSuite::mount().InvalidateKey(TaskRecordKey(task_id)).ok());
}

// Moves an (aged) record to where it would be had it been issued that long
// ago: the storage hour of its expiry, under the id that hour gives it (the
// first 8 hex digits). Returns that id.
std::string MoveToItsHour(const std::string& task_id) {
  auto stored = PluginSuite::mount().storage().Get(TaskRecordKey(task_id));
  EXPECT_TRUE(stored.has_value());
  if (!stored.has_value()) return "";
  json rec = json::parse(stored->value);
  char hour[16];
  std::snprintf(hour, sizeof(hour), "%08llx", static_cast<long long>(rec["expires_at"].get<int64_t>() / 3600));
  std::string moved = hour + task_id.substr(8);
  rec["task_id"] = moved;
  PluginSuite::mount().storage().Put(TaskRecordKey(moved), {rec.dump(), stored->seal_wrap});
  PluginSuite::mount().storage().Delete(TaskRecordKey(task_id));
  EXPECT_TRUE(PluginSuite::mount().InvalidateKey(TaskRecordKey(task_id)).ok());
  return moved;
}

TEST_F(PluginLifetimeTest, RenewNeverPassesMaxTtl) {
  Ok("create", "roles/renew-cap",
     {{"task", "t"}, {"grants", "read kv://a/b"}, {"credential_type", "opaque"}, {"renewable", true}, {"ttl", 60},
      {"max_ttl", 100}});
  RequestResult r = Issue("creds/renew-cap");
  EXPECT_EQ(r.reply.response().secret().lease_options().maxttl() / kNs, 100);
  AgeRecord(r.data["task_id"], 50);  // 50 s of the 100 s max_ttl are left
  RequestResult renewed = SecretOp("renew", r);
  ASSERT_EQ(renewed.http_status, 200) << renewed.error;
  int64_t ttl = LeaseTtlSeconds(renewed);
  EXPECT_GE(ttl, 48);
  EXPECT_LE(ttl, 50) << "renewed past max_ttl";
  json task = Ok("read", "tasks/" + r.data["task_id"].get<std::string>());
  EXPECT_EQ(task["active"], true);
  AgeRecord(r.data["task_id"], 60);  // now past max_ttl
  RequestResult late = SecretOp("renew", r);
  EXPECT_EQ(late.http_status, 400) << late.error;
  EXPECT_THAT(late.error, ::testing::HasSubstr("max_ttl"));
}

TEST_F(PluginLifetimeTest, ExpiredRecordsAreInactiveAndTidied) {
  RequestResult r = Issue("creds/opaque-short");
  std::string task_id = r.data["task_id"];
  std::string token = r.data["credential"];
  AgeRecord(task_id, 3 * 3600);
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}}), json({{"active", false}})) << "expired";
  EXPECT_EQ(Ok("read", "tasks/" + task_id)["active"], false);
  EXPECT_EQ(SecretOp("renew", r).http_status, 400);
  // Its storage hour is only past once the record really is 3 h old.
  EXPECT_EQ(Ok("update", "tidy")["tasks_deleted"], 0);
  const std::string moved = MoveToItsHour(task_id);
  EXPECT_EQ(Ok("read", "tasks/" + moved)["active"], false);
  json t = Ok("update", "tidy");
  EXPECT_GE(t["tasks_deleted"].get<int>(), 1);
  EXPECT_GE(t["buckets_scanned"].get<int>(), 1);
  EXPECT_FALSE(mount().storage().Get(TaskRecordKey(moved)).has_value());
  EXPECT_EQ(Call("read", "tasks/" + moved).http_status, 404);
  // Revoke after tidy is still success (the record is gone).
  EXPECT_EQ(SecretOp("revoke", r).http_status, 204);
  // The periodic hook tidies too.
  RequestResult r2 = Issue("creds/opaque-short");
  AgeRecord(r2.data["task_id"], 3 * 3600);
  const std::string moved2 = MoveToItsHour(r2.data["task_id"]);
  RequestResult rb = Call("rollback", "");
  EXPECT_TRUE(rb.http_status == 204 || rb.http_status == 200) << rb.error;
  EXPECT_FALSE(mount().storage().Get(TaskRecordKey(moved2)).has_value());
}

class PluginCacheTest : public PluginSuite {};

TEST_F(PluginCacheTest, InvalidateKeyDropsCachedRoleConfigAndKeysOfASecondMount) {
  // Two mounts of the one plugin process over one storage: an active node and
  // a standby (or a second mount) that must not serve stale cached data.
  SharedMounts mounts = MountsOnOneStorage();
  ASSERT_NE(mounts.standby, nullptr);
  Mount& a = *mounts.active;
  Mount& b = *mounts.standby;
  auto call = [](Mount& m, const std::string& op, const std::string& path, json data = nullptr) {
    RequestSpec spec;
    spec.operation = op;
    spec.path = path;
    spec.data = std::move(data);
    RequestResult r = m.HandleRequest(spec);
    EXPECT_LT(r.http_status, 300) << op << " " << path << ": " << r.error;
    return r;
  };
  call(a, "create", "roles/shared", {{"task", "v1"}, {"grants", "read kv://a/b"}});
  call(a, "update", "config", {{"issuer", "iss-1"}});
  EXPECT_EQ(call(b, "read", "roles/shared").data["task"], "v1");
  EXPECT_EQ(call(b, "read", "config").data["issuer"], "iss-1");
  json b_keys = RawBody(call(b, "read", "jwks"));
  call(a, "update", "roles/shared", {{"task", "v2"}});
  call(a, "update", "config", {{"issuer", "iss-2"}});
  json rotated = call(a, "update", "rotate").data;
  ASSERT_TRUE(b.InvalidateKey("roles/shared").ok());
  ASSERT_TRUE(b.InvalidateKey("config").ok());
  ASSERT_TRUE(b.InvalidateKey("keys/ring").ok());
  EXPECT_EQ(call(b, "read", "roles/shared").data["task"], "v2");
  EXPECT_EQ(call(b, "read", "config").data["issuer"], "iss-2");
  json keys = RawBody(call(b, "read", "jwks"));
  ASSERT_FALSE(keys["keys"].empty());
  EXPECT_EQ(keys["keys"][0]["kid"], rotated["active_kid"]);
  EXPECT_NE(keys, b_keys);
  a.Cleanup();
  b.Cleanup();
}

TEST_F(PluginCacheTest, ATokenOfAnotherMountIsInactive) {
  Ok("create", "roles/here", {{"task", "t"}, {"grants", "read kv://a/b"}});
  RequestResult r = Issue("creds/here");
  auto other = host().Setup({});
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Initialize().ok());
  RequestSpec spec;
  spec.operation = "update";
  spec.path = "introspect";
  spec.data = {{"token", r.data["credential"]}};
  EXPECT_EQ((*other)->HandleRequest(spec).data, json({{"active", false}})) << "foreign key";
  EXPECT_EQ(Ok("update", "introspect", {{"token", r.data["credential"]}})["active"], true);
  (*other)->Cleanup();
}

TEST_F(PluginLifetimeTest, GrantsInCliFormsAndTaskPaging) {
  // One shorthand string with two actions, and a string holding a JSON array.
  Ok("create", "roles/cli1", {{"task", "t"}, {"grants", "read,write kv://a/b"}});
  Ok("create", "roles/cli2", {{"task", "t"}, {"grants", R"([{"resource":"kv://a/b","actions":["read","write"]}])"}});
  json g = {{{"resource", "kv://a/b"}, {"actions", {"read", "write"}}}};
  EXPECT_EQ(Ok("read", "roles/cli1")["grants"], g);
  EXPECT_EQ(Ok("read", "roles/cli2")["grants"], g);
  // Parameters in the k=v list form.
  Ok("create", "roles/cli3", {{"task", "t"}, {"grants", "read kv://a/{{x}}"}, {"parameters", "x=^[a-z]+$"}});
  EXPECT_EQ(Ok("read", "roles/cli3")["parameters"], json({{"x", "^[a-z]+$"}}));
  // Roles list paging.
  json page = Ok("list", "roles/", {{"limit", 2}});
  EXPECT_EQ(page["keys"].size(), 2u) << page.dump();
  // Tasks list paging (after/limit over the stored ids).
  for (int i = 0; i < 3; ++i) Issue("creds/cli1");
  json all = Ok("list", "tasks/", {{"include_ended", true}});
  ASSERT_GE(all["keys"].size(), 3u);
  json first = Ok("list", "tasks/", {{"include_ended", true}, {"limit", 1}});
  ASSERT_EQ(first["keys"].size(), 1u);
  EXPECT_EQ(first["keys"][0], all["keys"][0]);
  json next = Ok("list", "tasks/", {{"include_ended", true}, {"after", all["keys"][0]}, {"limit", 1}});
  ASSERT_EQ(next["keys"].size(), 1u);
  EXPECT_EQ(next["keys"][0], all["keys"][1]);
}

}  // namespace
}  // namespace taskcred::test

namespace taskcred::test {
namespace {

using nlohmann::json;

// Storage failures (the host's storage answering an in-band error) are never
// turned into a credential without a record, nor into a spent use that was
// not stored.
class PluginStorageFaultTest : public PluginSuite {
 protected:
  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    Ok("create", "roles/once", {{"task", "t"}, {"grants", "read kv://a/b"}, {"max_uses", 1}});
  }
};

TEST_F(PluginStorageFaultTest, FailedWriteIssuesNothing) {
  for (int failing = 1; failing <= 2; ++failing) {
    SCOPED_TRACE(failing);
    mount().storage().FailPuts(failing);
    RequestResult r = Call("read", "creds/once");
    EXPECT_GE(r.http_status, 500) << r.data.dump();
    EXPECT_FALSE(r.data.is_object() && r.data.contains("credential")) << "a credential without a record";
    EXPECT_TRUE(mount().storage().List("tasks/").empty());
    mount().storage().FailPuts(0);
  }
}

TEST_F(PluginStorageFaultTest, FailedConsumeIsNotActiveAndSpendsNothing) {
  RequestResult issued = Issue("creds/once");
  std::string token = issued.data["credential"];
  mount().storage().FailPuts(1);
  RequestResult failed = Call("update", "introspect", {{"token", token}, {"consume", true}});
  mount().storage().FailPuts(0);
  EXPECT_FALSE(failed.http_status == 200 && failed.data.value("active", false))
      << "a consume that was not stored answered active";
  json again = Ok("update", "introspect", {{"token", token}, {"consume", true}});
  EXPECT_EQ(again["active"], true) << "the failed consume must not have spent the use";
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}}), json({{"active", false}}));
}

TEST_F(PluginStorageFaultTest, FailedRevokeIsAnErrorSoVaultRetries) {
  RequestResult issued = Issue("creds/once");
  mount().storage().FailPuts(1);
  RequestResult failed = SecretOp("revoke", issued);
  mount().storage().FailPuts(0);
  EXPECT_GE(failed.http_status, 500) << "a revoke that was not stored must not report success";
  EXPECT_EQ(SecretOp("revoke", issued).http_status, 204);
  EXPECT_EQ(Ok("update", "introspect", {{"token", issued.data["credential"]}}), json({{"active", false}}));
}

}  // namespace
}  // namespace taskcred::test
