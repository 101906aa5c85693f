// The host SIGKILLs the plugin while a slow storage call of a request is in
// flight, then starts a new plugin process over the same storage (as Vault
// does after a crash): no record is lost, a revoked credential stays revoked,
// an issued one still introspects active, and a retried revoke succeeds.
#include <future>

#include "fault_fixture.h"
#include "harness/task_layout.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

class KillRestartTest : public FaultTest {
 protected:
  struct Before {
    RequestResult active_jwt, active_opaque, revoked, victim;
    StorageImage image;
  };

  // One mount with an active JWT, an active opaque credential, a revoked one
  // and the `victim` the interrupted request is about.
  Before Prepare(Mount& m) {
    Before b;
    Ok(m, "create", "roles/backup", JwtRole());
    Ok(m, "create", "roles/op", OpaqueRole());
    b.active_jwt = Issue(m, "creds/backup", {{"snapshot_id", "1"}});
    b.active_opaque = Issue(m, "creds/op");
    b.revoked = Issue(m, "creds/backup", {{"snapshot_id", "2"}});
    EXPECT_EQ(SecretOp(m, "revoke", b.revoked).http_status, 204);
    b.victim = Issue(m, "creds/op");
    b.image = Image();
    return b;
  }

  // Starts `request` on its own thread with storage slowed down, waits until
  // one of its storage calls (counted by `counter`) is in flight, SIGKILLs
  // the plugin and waits for the request to end.
  void KillDuring(PluginHost* host, const std::function<RequestResult()>& request,
                  const std::function<int()>& counter) {
    const int base = counter();
    storage().SetDelay(milliseconds(1500));
    auto pending = std::async(std::launch::async, request);
    bool in_flight = WaitUntil([&] { return counter() > base; }, std::chrono::seconds(10));
    EXPECT_TRUE(in_flight) << "the request made no storage call";
    host->Kill();
    ASSERT_EQ(pending.wait_for(std::chrono::seconds(5)), std::future_status::ready) << "request hung after kill";
    RequestResult r = pending.get();
    RecordCredential(r);
    EXPECT_FALSE(r.status.ok()) << "the killed plugin answered: " << r.reply.DebugString();
    auto exit = host->WaitExit(std::chrono::seconds(5));
    ASSERT_TRUE(exit.has_value());
    EXPECT_EQ(exit->signal, SIGKILL) << exit->ToString();
    storage().SetDelay(milliseconds(0));
  }

  // The state every restart must find: nothing lost, nothing resurrected.
  void ExpectSurvived(Mount& m, const Before& b) {
    StorageImage now = Image();
    for (const RequestResult* r : {&b.active_jwt, &b.active_opaque, &b.revoked}) {
      std::string key = TaskRecordKey(r->data.value("task_id", std::string()));
      EXPECT_EQ(now[key], b.image.at(key)) << key << " changed or was lost";
    }
    EXPECT_EQ(now["keys/ring"], b.image.at("keys/ring")) << "the key ring changed";
    EXPECT_EQ(Introspect(m, b.active_jwt.data["credential"]).value("active", false), true);
    EXPECT_EQ(Introspect(m, b.active_opaque.data["credential"]).value("active", false), true);
    EXPECT_EQ(Introspect(m, b.revoked.data["credential"]), json({{"active", false}}));
    // Every record is stored under the hour its id names, so tidy will find it.
    for (const std::string& key : KeysUnder("tasks/")) {
      std::string id = key.substr(key.rfind('/') + 1);
      EXPECT_EQ(key, TaskRecordKey(id)) << "a record outside its hour";
      EXPECT_EQ(id.size() > 14 ? id[14] : ' ', '8') << key << " is not a version-8 id";
    }
  }
};

TEST_F(KillRestartTest, KilledDuringRevokeThenRetried) {
  PluginHost* first = StartHost();
  Mount* m = SetupMount(first);
  ASSERT_NE(m, nullptr);
  Before b = Prepare(*m);
  // The victim's record is cached (this node issued it), so the revoke's one
  // storage call is its write.
  KillDuring(first, [&] { return m->HandleRequest(LeaseRequest("revoke", b.victim)); },
             [&] { return storage().puts(); });

  Mount* again = SetupMount(StartHost());
  ASSERT_NE(again, nullptr);
  ExpectSurvived(*again, b);
  // Vault retries the revoke it never saw succeed.
  EXPECT_EQ(SecretOp(*again, "revoke", b.victim).http_status, 204);
  EXPECT_EQ(Introspect(*again, b.victim.data["credential"]), json({{"active", false}}));
}

TEST_F(KillRestartTest, KilledDuringIssuance) {
  PluginHost* first = StartHost();
  Mount* m = SetupMount(first);
  ASSERT_NE(m, nullptr);
  Before b = Prepare(*m);
  const size_t tasks_before = KeysUnder("tasks/").size();
  KillDuring(first, [&] { return m->HandleRequest(Spec("update", "creds/backup", {{"snapshot_id", "3"}})); },
             [&] { return storage().puts(); });

  Mount* again = SetupMount(StartHost());
  ASSERT_NE(again, nullptr);
  ExpectSurvived(*again, b);
  // The interrupted issuance returned no credential; at most its (unusable) record exists.
  EXPECT_LE(KeysUnder("tasks/").size(), tasks_before + 1);
  // It was logged before its write, so the killed process's log names it;
  // if its record landed, it shows as unconfirmed (tidy reports it later).
  std::string logged;
  for (const LogLine& line : first->Logs()) {
    if (line.json && line.message == "credential issued") logged = line.object.value("task_id", "");
  }
  ASSERT_FALSE(logged.empty()) << "the interrupted issuance was not logged";
  for (const RequestResult* r : {&b.active_jwt, &b.active_opaque, &b.revoked, &b.victim}) {
    EXPECT_NE(logged, r->data.value("task_id", "")) << "the last line is not the interrupted issuance's";
  }
  if (KeysUnder("tasks/").size() > tasks_before) {
    EXPECT_TRUE(Image().count(TaskRecordKey(logged))) << "the record that landed is not the logged task's";
    EXPECT_EQ(Ok(*again, "read", "tasks/" + logged).value("confirmed", true), false);
  }
  EXPECT_EQ(Introspect(*again, b.victim.data["credential"]).value("active", false), true);
  RequestResult fresh = Issue(*again, "creds/backup", {{"snapshot_id", "4"}});
  EXPECT_EQ(Introspect(*again, fresh.data.value("credential", "")).value("active", false), true);
}

// A revoke that completed right before the kill is durable.
TEST_F(KillRestartTest, RevokedStaysRevokedAfterKill) {
  PluginHost* first = StartHost();
  Mount* m = SetupMount(first);
  ASSERT_NE(m, nullptr);
  Before b = Prepare(*m);
  ASSERT_EQ(SecretOp(*m, "revoke", b.victim).http_status, 204);
  b.image = Image();
  first->Kill();
  ASSERT_TRUE(first->WaitExit(std::chrono::seconds(5)).has_value());
  Mount* again = SetupMount(StartHost());
  ASSERT_NE(again, nullptr);
  ExpectSurvived(*again, b);
  EXPECT_EQ(Introspect(*again, b.victim.data["credential"]), json({{"active", false}}));
}

}  // namespace
}  // namespace taskcred::test
