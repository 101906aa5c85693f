// Secret hygiene of the plugin's stderr: every issuance is logged with
// task_id, role, entity, grants hash and expiry; no credential, opaque token
// or private key ever is. (Every other suite checks the same when it ends.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

class PluginHygieneTest : public PluginSuite {
 protected:
  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    Ok("create", "roles/jwt", BackupRole());
    Ok("create", "roles/opaque",
       {{"task", "op"}, {"grants", "read kv://x/{{task_id}}"}, {"credential_type", "opaque"}, {"renewable", true},
        {"ttl", 60}, {"max_ttl", 600}});
  }

  // The issuance line of `issued`, awaited (the log arrives asynchronously).
  static json IssuanceLine(const RequestResult& issued) {
    const std::string task_id = issued.data["task_id"];
    return WaitForLog("credential issued",
                      [&](const json& o) { return o.value("task_id", std::string()) == task_id; });
  }

  static void ExpectLogsClean(const std::vector<std::string>& secrets) {
    for (const LogLine& line : host().Logs()) {
      EXPECT_EQ(line.raw.find("PRIVATE KEY"), std::string::npos) << line.raw;
      for (const auto& s : secrets) EXPECT_EQ(line.raw.find(s), std::string::npos) << line.raw;
    }
  }
};

TEST_F(PluginHygieneTest, IssuanceIsLoggedWithTaskRoleEntityGrantsHashAndExpiry) {
  RequestResult r = Issue("creds/jwt", {{"snapshot_id", "31337"}}, "ent-log");
  ASSERT_EQ(r.http_status, 200) << r.error;
  json line = IssuanceLine(r);
  ASSERT_FALSE(line.is_null()) << "no 'credential issued' line for the task";
  EXPECT_EQ(line["@level"], "info");
  EXPECT_EQ(line["role"], "jwt");
  EXPECT_EQ(line["entity"], "ent-log");
  EXPECT_EQ(line["credential_type"], "jwt");
  EXPECT_EQ(line["expires_at"], r.data["expires_at"]);
  // grants_hash: hex SHA-256 of the canonical (compact, sorted) grants JSON.
  EXPECT_EQ(line["grants_hash"], crypto::Sha256Hex(r.data["grants"].dump()));
  ExpectLogsClean({r.data["credential"].get<std::string>()});
}

TEST_F(PluginHygieneTest, NoCredentialTokenOrKeyInTheLogAfterEveryOperation) {
  std::vector<std::string> secrets;
  // All three algorithms generate private keys; rotation generates more.
  for (const char* alg : {"ES256", "RS256", "EdDSA"}) {
    Ok("update", "config", {{"signing_algorithm", alg}});
    Ok("update", "rotate");
  }
  Ok("update", "rotate");
  RequestResult jwt = Issue("creds/jwt", {{"snapshot_id", "1"}});
  RequestResult opaque = Issue("creds/opaque");
  for (const RequestResult* r : {&jwt, &opaque}) {
    std::string cred = r->data["credential"];
    secrets.push_back(cred);
    secrets.push_back(SecretPart(cred));
    Ok("update", "introspect", {{"token", cred}, {"resource", "kv://x/y"}, {"action", "read"}});
    Ok("update", "introspect", {{"token", cred}, {"consume", true}});
  }
  EXPECT_EQ(SecretOp("renew", opaque).http_status, 200);
  EXPECT_EQ(Call("update", "release", {{"token", jwt.data["credential"]}}).http_status, 204);
  EXPECT_EQ(SecretOp("revoke", opaque).http_status, 204);
  // Tokens that fail must not be echoed either.
  const std::string forged = "tcop_" + opaque.data["task_id"].get<std::string>() + "_ForgedSecretPartThatMustNotBeLogged";
  RecordSecret(forged);
  secrets.push_back(forged);
  Ok("update", "introspect", {{"token", forged}});
  Call("update", "release", {{"token", forged}});
  Ok("update", "tidy");
  Call("rollback", "");
  ASSERT_FALSE(IssuanceLine(opaque).is_null());
  ExpectLogsClean(secrets);
  Ok("update", "config", {{"signing_algorithm", "EdDSA"}});
}

}  // namespace
}  // namespace taskcred::test
