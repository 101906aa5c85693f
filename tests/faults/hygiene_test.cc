// Secret hygiene through the real binary at trace log level: opaque tokens
// are stored only as their SHA-256, the tasks/ views never show a credential
// or its hash, and no credential, token or private key reaches stderr on any
// path, failing ones included. (Every FaultTest also scans its plugins'
// stderr and its storage in TearDown.)
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "fault_fixture.h"
#include "harness/task_layout.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

class HygieneTest : public FaultTest {
 protected:
  // The random part of an opaque token tcop_<task_id>_<random> (base64url
  // may itself hold '_'; the task id does not).
  static std::string RandomPart(const std::string& token) { return token.substr(token.find('_', 5) + 1); }
};

TEST_F(HygieneTest, OpaqueTokensAreStoredOnlyAsHashes) {
  Mount* m = StartMount();
  ASSERT_NE(m, nullptr);
  Ok(*m, "create", "roles/op", OpaqueRole());
  Ok(*m, "create", "roles/once", {{"task", "t"}, {"grants", "read kv://a/b"}, {"credential_type", "opaque"},
                                  {"max_uses", 2}});
  std::vector<RequestResult> issued = {Issue(*m, "creds/op"), Issue(*m, "creds/op/instance-1"),
                                       Issue(*m, "creds/once")};
  // Every write a token can cause: renew, consume, release.
  EXPECT_EQ(SecretOp(*m, "renew", issued[0]).http_status, 200);
  EXPECT_EQ(Ok(*m, "update", "introspect", {{"token", issued[2].data["credential"]}, {"consume", true}})
                .value("active", false),
            true);
  EXPECT_EQ(Call(*m, "update", "release", {{"token", issued[1].data["credential"]}}).http_status, 204);

  StorageImage image = Image();
  for (const RequestResult& r : issued) {
    const std::string token = r.data["credential"];
    ASSERT_EQ(token.rfind("tcop_", 0), 0u) << token;
    const std::string key = TaskRecordKey(r.data["task_id"]);
    ASSERT_TRUE(image.count(key)) << key;
    json record = json::parse(image[key], nullptr, false);
    EXPECT_EQ(record.value("token_hash", ""), crypto::Sha256Hex(token)) << "the record does not hold the hash";
    for (const auto& [k, v] : image) {
      EXPECT_EQ(v.find(token), std::string::npos) << k << " holds the token";
      EXPECT_EQ(v.find(RandomPart(token)), std::string::npos) << k << " holds the token's random part";
      auto raw = crypto::Base64UrlDecode(RandomPart(token));
      ASSERT_TRUE(raw.ok());
      EXPECT_EQ(v.find(crypto::HexEncode(*raw)), std::string::npos) << k << " holds the random bytes in hex";
      EXPECT_EQ(v.find(crypto::Base64Encode(*raw)), std::string::npos) << k << " holds the random bytes";
    }
  }
}

TEST_F(HygieneTest, TasksViewsNeverShowACredential) {
  Mount* m = StartMount();
  ASSERT_NE(m, nullptr);
  Ok(*m, "create", "roles/backup", JwtRole());
  Ok(*m, "create", "roles/op", OpaqueRole());
  std::vector<RequestResult> issued = {Issue(*m, "creds/backup", {{"snapshot_id", "1"}}), Issue(*m, "creds/op"),
                                       Issue(*m, "creds/op")};
  ASSERT_EQ(SecretOp(*m, "revoke", issued[2]).http_status, 204);  // an ended run, shown with include_ended

  std::vector<json> views = {Ok(*m, "list", "tasks/"), Ok(*m, "list", "tasks/", {{"include_ended", true}})};
  for (const RequestResult& r : issued) views.push_back(Ok(*m, "read", "tasks/" + r.data["task_id"].get<std::string>()));
  EXPECT_EQ(views[1].value("keys", json::array()).size(), 3u) << views[1].dump();
  for (size_t v = 0; v < views.size(); ++v) {
    SCOPED_TRACE(v);
    const std::string text = views[v].dump();
    const size_t shown = v < 2 ? 0 : v - 2;  // the lists show the first; each read its own
    EXPECT_NE(text.find(issued[shown].data["task_id"].get<std::string>()), std::string::npos) << "view is empty";
    EXPECT_EQ(text.find("token_hash"), std::string::npos) << text;
    EXPECT_EQ(text.find("\"credential\""), std::string::npos) << text;
    for (const RequestResult& r : issued) {
      const std::string token = r.data["credential"];
      EXPECT_EQ(text.find(token), std::string::npos) << "credential in a tasks view";
      EXPECT_EQ(text.find(SecretPart(token)), std::string::npos) << "secret part shown";
      EXPECT_EQ(text.find(crypto::Sha256Hex(token)), std::string::npos) << "token hash in a tasks view";
    }
  }
}

// Every path, at trace level, with failures while tokens are in flight; the
// log is not empty (the scan has something to look at) and holds none of the
// credentials, tokens or key material.
TEST_F(HygieneTest, LogsStayCleanOnEveryPath) {
  PluginHost* host = StartHost();
  Mount* m = SetupMount(host);
  ASSERT_NE(m, nullptr);
  Ok(*m, "update", "config", {{"issuer", "https://vault.example.com/v1/taskcred"}, {"signing_algorithm", "ES256"}});
  Ok(*m, "update", "rotate");  // the ES256 next key becomes active
  Ok(*m, "create", "roles/backup", JwtRole());
  Ok(*m, "create", "roles/op", OpaqueRole());
  Ok(*m, "update", "roles/backup/preview", {{"snapshot_id", "5"}});
  RequestResult es = Issue(*m, "creds/backup", {{"snapshot_id", "1"}});
  Ok(*m, "update", "config", {{"signing_algorithm", "RS256"}});
  Ok(*m, "update", "rotate");
  RequestResult rs = Issue(*m, "creds/backup", {{"snapshot_id", "2"}});
  RequestResult op = Issue(*m, "creds/op");
  ASSERT_NE(storage().Get("keys/ring").value_or(FakeStorage::Entry{}).value.find("PRIVATE KEY"), std::string::npos)
      << "no private key in storage: the key scan would be vacuous";

  for (const RequestResult* r : {&es, &rs, &op}) {
    const std::string token = r->data["credential"];
    Ok(*m, "update", "introspect", {{"token", token}, {"resource", "kv://db1/backup-user"}, {"action", "read"}});
    // Failures while the token is in the request (the failed release leaves it active).
    storage().FailGets(1);
    Call(*m, "update", "introspect", {{"token", token}, {"consume", true}});
    storage().FailGets(0);
    storage().FailPuts(1);
    RequestResult failed_release = Call(*m, "update", "release", {{"token", token}});
    storage().FailPuts(0);
    EXPECT_GE(failed_release.http_status, 500) << "a release that was not stored reported success";
    EXPECT_EQ(Introspect(*m, token).value("active", false), true);
    // Near-valid tokens: last character changed.
    std::string forged = token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    RecordSecret(forged);
    EXPECT_EQ(Introspect(*m, forged), json({{"active", false}}));
    Call(*m, "update", "release", {{"token", forged}});
    // A token where a role name or parameter is expected.
    Call(*m, "update", "creds/backup", {{"snapshot_id", token}});
    Call(*m, "update", "creds/backup", {{token, "1"}});
  }
  EXPECT_EQ(SecretOp(*m, "renew", op).http_status, 200);
  storage().FailPuts(1);
  SecretOp(*m, "revoke", rs);
  storage().FailPuts(0);
  EXPECT_EQ(SecretOp(*m, "revoke", rs).http_status, 204);
  EXPECT_EQ(Call(*m, "update", "release", {{"token", op.data["credential"]}}).http_status, 204);
  Ok(*m, "list", "tasks/", {{"include_ended", true}});
  Ok(*m, "update", "tidy");
  Call(*m, "read", ".well-known/jwks.json");

  (void)host->Shutdown();
  ASSERT_TRUE(host->WaitExit(std::chrono::seconds(5)).has_value());
  host->process().WaitOutputClosed();
  std::string stderr_text = host->process().StderrText();
  EXPECT_NE(stderr_text.find(es.data["task_id"].get<std::string>()), std::string::npos)
      << "issuance was not logged: the scan would be vacuous";
  EXPECT_NE(stderr_text.find("\"@level\":\"trace\""), std::string::npos) << "trace logging is not on";
  ExpectCleanLogs();
}

}  // namespace
}  // namespace taskcred::test
