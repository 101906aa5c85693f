// Storage failures (the host answering an in-band error to a Get/Put) during
// issuance and revoke: an error, never a credential without its record,
// nothing half-written that a later request would trip over, and a revoke
// error Vault retries.
#include <set>

#include "crypto/jwt.h"
#include "fault_fixture.h"
#include "harness/task_layout.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

class StorageFaultTest : public FaultTest {
 protected:
  // The failed issuance answered an error and no credential.
  void ExpectFailedIssuance(const RequestResult& r) {
    RecordCredential(r);  // should it leak, the log/storage scan also sees it
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_GE(r.http_status, 500) << r.data.dump();
    EXPECT_NE(r.error.find("storage"), std::string::npos) << "unclear error: " << r.error;
    EXPECT_FALSE(r.data.is_object() && r.data.contains("credential")) << "a credential without a record";
    EXPECT_FALSE(r.reply.has_response() && r.reply.response().has_secret()) << "a lease without a record";
  }

  // The JWT's kid names a key stored in keys/ring (it was not signed by a
  // key that only lives in the failed process's memory).
  void ExpectKidStored(const std::string& token) {
    auto jwt = crypto::DecodeJwt(token);
    ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
    std::string kid = jwt->header.value("kid", std::string());
    auto ring = storage().Get("keys/ring");
    ASSERT_TRUE(ring.has_value()) << "JWT issued but no key ring stored";
    EXPECT_NE(ring->value.find("\"" + kid + "\""), std::string::npos) << "kid " << kid << " is not in keys/ring";
  }

  // After the failure: a new issuance works, introspects active, and the
  // tasks/ view shows exactly it.
  void ExpectRecovered(Mount& m, const std::string& path, const json& params) {
    RequestResult ok = Issue(m, path, params);
    ASSERT_EQ(ok.http_status, 200);
    std::string token = ok.data["credential"];
    EXPECT_EQ(Introspect(m, token).value("active", false), true);
    EXPECT_EQ(ListedTasks(m), json::array({ok.data["task_id"]}));
    if (ok.data.value("credential_type", "") == "jwt") ExpectKidStored(token);
  }
};

// The n-th Put of a JWT issuance on a mount whose key ring does not exist
// yet: 1 = keys/ring, 2 = the status list's slot reserve (one write per 64
// issuances), 3 = the task record (its only write of its own).
TEST_F(StorageFaultTest, JwtIssuanceNthPutFails) {
  PluginHost* host = StartHost();
  ASSERT_NE(host, nullptr);
  const json params = {{"snapshot_id", "4711"}};
  for (int n = 1; n <= 3; ++n) {
    SCOPED_TRACE("failing put #" + std::to_string(n));
    WipeStorage();
    Mount* m = SetupMount(host, /*initialize=*/false);
    ASSERT_NE(m, nullptr);
    Ok(*m, "create", "roles/backup", JwtRole());
    RequestResult r;
    {
      NthPutFailure fail(storage(), n);
      r = Call(*m, "update", "creds/backup", params);
      EXPECT_TRUE(fail.armed()) << "issuance made fewer than " << n << " puts";
    }
    ExpectFailedIssuance(r);
    EXPECT_TRUE(KeysUnder("tasks/").empty()) << "half-written task record";
    EXPECT_EQ(storage().Get("keys/ring").has_value(), n > 1) << "the ring is the first write";
    EXPECT_EQ(ListedTasks(*m, /*include_ended=*/true), json::array());
    ExpectRecovered(*m, "creds/backup", params);
    EXPECT_TRUE(KeysUnder("expiry/").empty()) << "the hour layout writes no index marker";
  }
}

// Opaque issuance on an initialized mount: its one Put (the record) fails.
TEST_F(StorageFaultTest, OpaqueIssuancePutFails) {
  PluginHost* host = StartHost();
  ASSERT_NE(host, nullptr);
  {
    WipeStorage();
    Mount* m = SetupMount(host);
    ASSERT_NE(m, nullptr);
    Ok(*m, "create", "roles/op", OpaqueRole());
    RequestResult r;
    {
      NthPutFailure fail(storage(), 1);
      r = Call(*m, "read", "creds/op");
      EXPECT_TRUE(fail.armed()) << "issuance made no put";
    }
    ExpectFailedIssuance(r);
    EXPECT_TRUE(KeysUnder("tasks/").empty()) << "half-written task record";
    ExpectRecovered(*m, "creds/op", nullptr);
    EXPECT_EQ(KeysUnder("tasks/").size(), 1u);
  }
}

// A failing Get on a cold mount (nothing cached): an error and nothing
// written, or (if that Get was not needed) a complete issuance.
TEST_F(StorageFaultTest, IssuanceGetFails) {
  Mount* seed = StartMount();
  ASSERT_NE(seed, nullptr);
  Ok(*seed, "create", "roles/backup", JwtRole());
  for (int n = 1; n <= 3; ++n) {
    SCOPED_TRACE("failing the next " + std::to_string(n) + " gets");
    Mount* m = SetupMount(StartHost());  // a new process: cold caches
    ASSERT_NE(m, nullptr);
    size_t tasks_before = KeysUnder("tasks/").size();
    storage().FailGets(n);
    RequestResult r = Call(*m, "update", "creds/backup", {{"snapshot_id", "1"}});
    storage().FailGets(0);
    ExpectFailedIssuance(r);
    EXPECT_EQ(KeysUnder("tasks/").size(), tasks_before);
    RequestResult ok = Issue(*m, "creds/backup", {{"snapshot_id", "1"}});
    EXPECT_EQ(Introspect(*m, ok.data.value("credential", "")).value("active", false), true);
  }
}

// Revoke whose Get or Put fails: an error Vault retries (not one of the kinds
// that make a lease irrevocable), the credential is not reported revoked;
// the retry succeeds and the credential is inactive from then on.
TEST_F(StorageFaultTest, RevokeFailsThenRetrySucceeds) {
  Mount* m = StartMount();
  ASSERT_NE(m, nullptr);
  Ok(*m, "create", "roles/backup", JwtRole());
  Ok(*m, "create", "roles/op", OpaqueRole());
  struct Case {
    std::string name, path;
    json params;
    char op;  // 'g' or 'p'
  };
  const std::vector<Case> cases = {
      {"jwt, put fails", "creds/backup", {{"snapshot_id", "7"}}, 'p'},
      {"jwt, get fails", "creds/backup", {{"snapshot_id", "8"}}, 'g'},
      {"opaque, put fails", "creds/op", nullptr, 'p'},
      {"opaque, get fails", "creds/op", nullptr, 'g'},
  };
  const std::set<uint32_t> irrevocable = {kErrTypeUnsupportedOperation, kErrTypeUnsupportedPath,
                                          kErrTypeInvalidRequest, kErrTypeUnrecoverable};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RequestResult issued = Issue(*m, c.path, c.params);
    ASSERT_EQ(issued.http_status, 200);
    const std::string token = issued.data["credential"];
    const std::string record_key = TaskRecordKey(issued.data["task_id"]);
    const std::string record_before = storage().Get(record_key).value_or(FakeStorage::Entry{}).value;
    // Not in the plugin's cache (as after a restart, or a write by another
    // node): the revoke must read the record from storage.
    ASSERT_TRUE(m->InvalidateKey(record_key).ok());
    if (c.op == 'p') storage().FailPuts(1); else storage().FailGets(1);
    RequestResult failed = SecretOp(*m, "revoke", issued);
    storage().FailPuts(0);
    storage().FailGets(0);
    EXPECT_GE(failed.http_status, 500) << "a revoke that was not stored must not report success";
    ASSERT_TRUE(failed.reply.has_err()) << failed.reply.DebugString();
    EXPECT_EQ(irrevocable.count(failed.reply.err().err_type()), 0u)
        << "err_type " << failed.reply.err().err_type() << " makes Vault give up the lease";
    EXPECT_EQ(failed.reply.err().err_type(), kErrTypeInternal);
    EXPECT_NE(failed.error.find("storage"), std::string::npos) << failed.error;
    EXPECT_EQ(storage().Get(record_key).value_or(FakeStorage::Entry{}).value, record_before)
        << "the failed revoke changed the record";

    RequestResult retry = SecretOp(*m, "revoke", issued);
    EXPECT_TRUE(retry.http_status == 204 || retry.http_status == 200) << retry.error;
    EXPECT_EQ(Introspect(*m, token), json({{"active", false}}));
    json record = json::parse(storage().Get(record_key).value_or(FakeStorage::Entry{}).value, nullptr, false);
    EXPECT_EQ(record.value("revoked", false), true) << record.dump();
  }
}

}  // namespace
}  // namespace taskcred::test
