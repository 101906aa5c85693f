// The creds, introspect, release, tasks, renew/revoke, tidy and rollback
// paths of the engine through the real taskcred binary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/jwt.h"
#include "harness/task_layout.h"
#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class PluginCredsTest : public PluginSuite {
 protected:
  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    Ok("update", "config", {{"issuer", "https://vault.example.com/v1/taskcred"}});
    Ok("create", "roles/backup-job", BackupRole());
    Ok("create", "roles/plain", {{"task", "report"}, {"grants", "read kv://reports/{{role}}"}, {"ttl", 300}});
    Ok("create", "roles/ci",
       {{"task", "ci-run"}, {"grants", "write ci://runs/{{instance}}/{{task_id}}"}, {"ttl", 120}});
    Ok("create", "roles/opaque",
       {{"task", "op"},
        {"grants", "read kv://x/y"},
        {"credential_type", "opaque"},
        {"renewable", true},
        {"ttl", 60},
        {"max_ttl", 120}});
  }
};

TEST_F(PluginCredsTest, ReadWithoutParameters) {
  RequestResult r = Issue("creds/plain");
  ASSERT_EQ(r.http_status, 200) << r.error;
  EXPECT_EQ(r.data["grants"], (json{{{"resource", "kv://reports/plain"}, {"actions", {"read"}}}}));
  EXPECT_EQ(r.data["credential_type"], "jwt");
  EXPECT_EQ(r.data["role"], "plain");
  EXPECT_EQ(r.data["task"], "report");
  ASSERT_TRUE(r.reply.response().has_secret());
  const auto& secret = r.reply.response().secret();
  EXPECT_EQ(secret.lease_options().ttl(), 300LL * 1000000000);
  EXPECT_FALSE(secret.lease_options().renewable());
  json internal = json::parse(secret.internal_data());
  EXPECT_EQ(internal["task_id"], r.data["task_id"]);
  EXPECT_EQ(internal["secret_type"], "taskcred_credential");
  // The JWT verifies against the served JWKS and carries the documented claims.
  auto jwt = crypto::DecodeAndVerifyJwt(r.data["credential"].get<std::string>(), RawBody(Call("read", "jwks")));
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  EXPECT_EQ(jwt->claims["jti"], r.data["task_id"]);
  EXPECT_EQ(jwt->claims["iss"], "https://vault.example.com/v1/taskcred");
  EXPECT_EQ(jwt->claims["sub"], "accessor:harness-accessor");
  EXPECT_EQ(jwt->claims["exp"].get<int64_t>() - jwt->claims["iat"].get<int64_t>(), 300);
}

TEST_F(PluginCredsTest, UpdateWithParameters) {
  RequestResult r = Issue("creds/backup-job", {{"snapshot_id", "4711"}}, "entity-1");
  ASSERT_EQ(r.http_status, 200) << r.error;
  EXPECT_EQ(r.data["grants"][0]["resource"], "s3://backups/db1/4711");
  EXPECT_EQ(r.data["max_uses"], 1);
  EXPECT_EQ(r.data["audience"], json({"backup-service"}));
  auto jwt = crypto::DecodeJwt(r.data["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["sub"], "entity-1");
  EXPECT_EQ(jwt->claims["max_uses"], 1);
  // JSON integers are accepted as their decimal text.
  RequestResult n = Issue("creds/backup-job", {{"snapshot_id", 42}});
  EXPECT_EQ(n.data["grants"][0]["resource"], "s3://backups/db1/42");
}

TEST_F(PluginCredsTest, InstanceIsRenderedAndRecorded) {
  RequestResult r = Issue("creds/ci/run-77");
  ASSERT_EQ(r.http_status, 200) << r.error;
  std::string task_id = r.data["task_id"];
  EXPECT_EQ(r.data["instance"], "run-77");
  EXPECT_EQ(r.data["grants"][0]["resource"], "ci://runs/run-77/" + task_id);
  ASSERT_TRUE(r.reply.response().has_secret()) << "the run is a lease under creds/ci/run-77";
  auto jwt = crypto::DecodeJwt(r.data["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["instance"], "run-77");
  EXPECT_EQ(Ok("read", "tasks/" + task_id)["instance"], "run-77");
  // Without an instance, {{instance}} has no value: 400.
  EXPECT_TRUE(IsBadRequestNaming(Call("read", "creds/ci"), "instance"));
}

TEST_F(PluginCredsTest, IntrospectActiveAllowedInactive) {
  RequestResult r = Issue("creds/backup-job", {{"snapshot_id", "5"}}, "entity-2");
  std::string token = r.data["credential"];
  json a = Ok("update", "introspect", {{"token", token}});
  EXPECT_EQ(a["active"], true);
  EXPECT_EQ(a["task_id"], r.data["task_id"]);
  EXPECT_EQ(a["role"], "backup-job");
  EXPECT_EQ(a["task"], "nightly-backup");
  EXPECT_EQ(a["sub"], "entity-2");
  EXPECT_EQ(a["aud"], json({"backup-service"}));
  EXPECT_EQ(a["uses_remaining"], 1);
  EXPECT_EQ(a["grants"], r.data["grants"]);
  EXPECT_FALSE(a.contains("allowed"));

  json allowed = Ok("update", "introspect", {{"token", token}, {"resource", "s3://backups/db1/5"}, {"action", "write"}});
  EXPECT_EQ(allowed["allowed"], true);
  json denied = Ok("update", "introspect", {{"token", token}, {"resource", "s3://backups/db1/6"}, {"action", "write"}});
  EXPECT_EQ(denied["active"], true);
  EXPECT_EQ(denied["allowed"], false);
  json wrong_action =
      Ok("update", "introspect", {{"token", token}, {"resource", "kv://db1/backup-user"}, {"action", "write"}});
  EXPECT_EQ(wrong_action["allowed"], false);

  // A denied consume spends nothing; an allowed one spends the only use.
  json c = Ok("update", "introspect",
              {{"token", token}, {"resource", "s3://backups/db1/6"}, {"action", "write"}, {"consume", true}});
  EXPECT_EQ(c["allowed"], false);
  c = Ok("update", "introspect", {{"token", token}, {"consume", true}});
  EXPECT_EQ(c["active"], true);
  EXPECT_EQ(c["uses_remaining"], 0);
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}}), json({{"active", false}})) << "spent";

  for (const std::string& bad : {std::string("garbage"), token.substr(0, token.size() - 3) + "AAA",
                                 std::string("tcop_00000000-0000-4000-8000-000000000000_xyz")}) {
    EXPECT_EQ(Ok("update", "introspect", {{"token", bad}}), json({{"active", false}})) << bad;
  }
  // Changing the issuer deactivates earlier JWTs.
  RequestResult other = Issue("creds/plain");
  Ok("update", "config", {{"issuer", "another-issuer"}});
  EXPECT_EQ(Ok("update", "introspect", {{"token", other.data["credential"]}}), json({{"active", false}}));
  Ok("update", "config", {{"issuer", "https://vault.example.com/v1/taskcred"}});
  EXPECT_EQ(Ok("update", "introspect", {{"token", other.data["credential"]}})["active"], true);
}

TEST_F(PluginCredsTest, AllowedFollowsTheDocumentedWildcardRule) {
  Ok("create", "roles/wild",
     {{"task", "t"}, {"grants", json::array({"read s3://b/*", "write s3://b/x/**", "read,list kv://k/exact"})}});
  RequestResult r = Issue("creds/wild");
  std::string token = r.data["credential"];
  struct Case {
    const char* resource;
    const char* action;
    bool allowed;
  };
  for (const Case& c : {Case{"s3://b/a", "read", true}, Case{"s3://b/a/b", "read", false},
                        Case{"s3://b/x/y", "write", true}, Case{"s3://b/x/y/z", "write", true},
                        Case{"s3://b/x", "write", false}, Case{"s3://b/a", "write", false},
                        Case{"kv://k/exact", "list", true}, Case{"kv://k/exact2", "read", false},
                        Case{"kv://k/exact/sub", "read", false}, Case{"s3://b/..", "read", false},
                        Case{"s3://b/x/../../etc", "write", false}, Case{"s3://b/x/a%2f..", "write", false},
                        Case{"s3://b/x//y", "write", false}, Case{"S3://b/a", "read", false},
                        Case{"s3://B/a", "read", false}, Case{"s3://b/x/y", "Write", false}}) {
    json a = Ok("update", "introspect", {{"token", token}, {"resource", c.resource}, {"action", c.action}});
    EXPECT_EQ(a["active"], true);
    EXPECT_EQ(a["allowed"], c.allowed) << c.action << " " << c.resource;
  }
}

TEST_F(PluginCredsTest, ReleaseEndsTheRunAndAnswersTheSameForAnyToken) {
  RequestResult r = Issue("creds/plain");
  std::string token = r.data["credential"];
  RequestResult rel = Call("update", "release", {{"token", token}});
  EXPECT_EQ(rel.http_status, 204);
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}}), json({{"active", false}}));
  EXPECT_EQ(Ok("read", "tasks/" + r.data["task_id"].get<std::string>())["released"], true);
  EXPECT_EQ(Call("update", "release", {{"token", token}}).http_status, 204) << "idempotent";
  EXPECT_EQ(Call("update", "release", {{"token", "not-a-token"}}).http_status, 204);
  EXPECT_TRUE(IsBadRequestNaming(Call("update", "release", json::object()), "token"));
}

TEST_F(PluginCredsTest, TasksListAndReadNeverShowTheCredential) {
  RequestResult r = Issue("creds/backup-job", {{"snapshot_id", "77"}});
  std::string token = r.data["credential"];
  std::string task_id = r.data["task_id"];
  RequestResult list = Call("list", "tasks/");
  ASSERT_EQ(list.http_status, 200);
  EXPECT_THAT(list.data["keys"].get<std::vector<std::string>>(), ::testing::Contains(task_id));
  json info = list.data["key_info"][task_id];
  EXPECT_EQ(info["role"], "backup-job");
  EXPECT_EQ(info["uses_remaining"], 1);
  EXPECT_EQ(info["active"], true);

  RequestResult read = Call("read", "tasks/" + task_id);
  ASSERT_EQ(read.http_status, 200);
  EXPECT_EQ(read.data["task_id"], task_id);
  EXPECT_EQ(read.data["grants"], r.data["grants"]);
  EXPECT_EQ(read.data["uses"], 0);
  EXPECT_EQ(read.data["revoked"], false);
  EXPECT_EQ(read.data["active"], true);
  for (const RequestResult* resp : {&list, &read}) {
    const std::string wire = resp->reply.SerializeAsString();
    EXPECT_EQ(wire.find(token), std::string::npos) << "credential in a tasks response";
    EXPECT_EQ(wire.find(token.substr(token.rfind('.') + 1)), std::string::npos) << "signature in tasks";
    EXPECT_EQ(resp->data.dump().find("hash"), std::string::npos) << resp->data.dump();
  }
  EXPECT_EQ(Call("read", "tasks/00000000-0000-4000-8000-000000000000").http_status, 404);

  // Ended runs are listed only with include_ended.
  ASSERT_EQ(SecretOp("revoke", r).http_status, 204);
  json live = Ok("list", "tasks/");
  if (live.contains("keys")) {
    EXPECT_THAT(live["keys"].get<std::vector<std::string>>(), ::testing::Not(::testing::Contains(task_id)));
  }
  json all = Ok("list", "tasks/", {{"include_ended", true}});
  EXPECT_THAT(all["keys"].get<std::vector<std::string>>(), ::testing::Contains(task_id));
}

TEST_F(PluginCredsTest, OpaqueRenewAndJwtRefusesRenew) {
  RequestResult r = Issue("creds/opaque");
  ASSERT_EQ(r.http_status, 200) << r.error;
  std::string token = r.data["credential"];
  std::string task_id = r.data["task_id"];
  EXPECT_EQ(token.rfind("tcop_" + task_id + "_", 0), 0u) << token;
  EXPECT_TRUE(r.reply.response().secret().lease_options().renewable());
  // Only the hash is stored.
  auto stored = mount().storage().Get(TaskRecordKey(task_id));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->value.find(SecretPart(token)), std::string::npos);

  RequestResult renew = SecretOp("renew", r);
  ASSERT_EQ(renew.http_status, 200) << renew.error;
  ASSERT_TRUE(renew.reply.response().has_secret());
  EXPECT_EQ(renew.reply.response().secret().lease_options().ttl(), 60LL * 1000000000);
  EXPECT_EQ(renew.reply.response().secret().lease_options().maxttl(), 120LL * 1000000000);
  EXPECT_TRUE(renew.reply.response().secret().lease_options().renewable());
  EXPECT_EQ(json::parse(renew.reply.response().secret().internal_data())["task_id"], task_id)
      << "renew echoes the internal data";
  // Vault returns the renew response's data to whoever calls sys/leases/renew
  // (the default policy lets any token renew): the credential must not be in it.
  EXPECT_EQ(renew.reply.response().SerializeAsString().find(SecretPart(token)), std::string::npos)
      << "renew response carries the credential: " << renew.data.dump();
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}})["credential_type"], "opaque");

  RequestResult jwt = Issue("creds/plain");
  RequestResult refused = SecretOp("renew", jwt);
  EXPECT_EQ(refused.http_status, 400) << refused.error;
  EXPECT_THAT(refused.error, HasSubstr("not renewable"));
}

TEST_F(PluginCredsTest, RevokeIsIdempotentAndDeactivates) {
  RequestResult r = Issue("creds/plain");
  std::string token = r.data["credential"];
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}})["active"], true);
  RequestResult first = SecretOp("revoke", r);
  EXPECT_EQ(first.http_status, 204) << first.error;
  RequestResult second = SecretOp("revoke", r);
  EXPECT_EQ(second.http_status, 204) << second.error;
  EXPECT_EQ(Ok("update", "introspect", {{"token", token}}), json({{"active", false}}));
  EXPECT_EQ(Ok("read", "tasks/" + r.data["task_id"].get<std::string>())["revoked"], true);
  // Opaque too, and a renew after revoke is refused.
  RequestResult o = Issue("creds/opaque");
  EXPECT_EQ(SecretOp("revoke", o).http_status, 204);
  EXPECT_EQ(SecretOp("revoke", o).http_status, 204);
  EXPECT_EQ(Ok("update", "introspect", {{"token", o.data["credential"]}}), json({{"active", false}}));
  EXPECT_EQ(SecretOp("renew", o).http_status, 400);
}

TEST_F(PluginCredsTest, TidyAnswersCounts) {
  json t = Ok("update", "tidy");
  for (const char* k : {"tasks_deleted", "index_entries_deleted", "buckets_scanned", "keys_pruned"}) {
    EXPECT_TRUE(t.contains(k) && t[k].is_number_integer()) << k << " in " << t.dump();
  }
  EXPECT_EQ(t["tasks_deleted"], 0) << "nothing is past expiry + 1h yet";
}

TEST_F(PluginCredsTest, RollbackOperationAnswersWithoutError) {
  RequestResult r = Call("rollback", "");
  EXPECT_TRUE(r.http_status == 204 || r.http_status == 200) << r.http_status << " " << r.error;
  EXPECT_FALSE(r.reply.has_err() && !r.reply.err().err_msg().empty()) << r.reply.err().err_msg();
}

}  // namespace
}  // namespace taskcred::test
