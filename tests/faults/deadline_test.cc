// Storage slower than the request deadline: the request ends near the
// deadline with an error (never a hang, never a credential), the plugin hands
// the deadline on to its storage calls, and it keeps serving afterwards.
#include "fault_fixture.h"
#include "harness/task_layout.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

class DeadlineTest : public FaultTest {};

TEST_F(DeadlineTest, SlowStorageEndsNearTheDeadline) {
  PluginHost* host = StartHost();
  Mount* m = SetupMount(host);
  ASSERT_NE(m, nullptr);
  Ok(*m, "create", "roles/backup", JwtRole());
  Ok(*m, "create", "roles/op", OpaqueRole());
  RequestResult jwt = Issue(*m, "creds/backup", {{"snapshot_id", "1"}});
  const StorageImage before = Image();

  // Not cached: the introspection below must read the record.
  ASSERT_TRUE(m->InvalidateKey(TaskRecordKey(jwt.data["task_id"])).ok());
  storage().SetDelay(milliseconds(1500));
  struct Probe {
    std::string name, op, path;
    json data;
  };
  const std::vector<Probe> probes = {
      {"issue jwt", "update", "creds/backup", {{"snapshot_id", "2"}}},
      {"issue opaque", "read", "creds/op", nullptr},
      {"introspect", "update", "introspect", {{"token", jwt.data["credential"]}}},
  };
  const milliseconds deadline(800);
  for (const Probe& p : probes) {
    SCOPED_TRACE(p.name);
    auto start = steady_clock::now();
    RequestResult r = m->HandleRequest(Spec(p.op, p.path, p.data, deadline));
    auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
    RecordCredential(r);
    EXPECT_GE(took.count(), deadline.count() - 100);
    EXPECT_LT(took.count(), deadline.count() + 1000) << "the request outlived its deadline";
    EXPECT_GE(r.http_status, 500) << "no error past the deadline: " << r.data.dump();
    if (r.status.ok()) {
      EXPECT_NE(r.error.find("deadline"), std::string::npos) << "unclear error: " << r.error;
    } else {
      EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << r.status.error_message();
    }
    EXPECT_FALSE(r.data.is_object() && r.data.contains("credential"));
    EXPECT_FALSE(r.data.is_object() && r.data.value("active", false));
    auto left = storage().last_deadline();
    ASSERT_TRUE(left.has_value());
    // (gRPC rounds a deadline it sends up to the next millisecond or so.)
    EXPECT_LE(left->count(), deadline.count() + 50) << "the storage call did not carry the request deadline";
  }
  storage().SetDelay(milliseconds(0));

  auto health = host->HealthCheck();
  EXPECT_TRUE(health.ok() && health.reply == 1) << health.status.error_message();
  // Nothing the timed-out requests wrote can be mistaken for a credential:
  // the earlier one is intact, and new requests succeed at once.
  EXPECT_EQ(Image().at(TaskRecordKey(jwt.data["task_id"])),
            before.at(TaskRecordKey(jwt.data["task_id"])));
  auto start = steady_clock::now();
  EXPECT_EQ(Introspect(*m, jwt.data["credential"]).value("active", false), true);
  RequestResult fresh = Issue(*m, "creds/backup", {{"snapshot_id", "3"}});
  EXPECT_EQ(Introspect(*m, fresh.data.value("credential", "")).value("active", false), true);
  // "At once" = not waiting on anything the timed-out requests left behind
  // (their handlers sleep 1.5 s); 5 s allows for a loaded sanitizer build.
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(steady_clock::now() - start).count(), 5000);
}

// Slow storage within the deadline is just slow: the request succeeds.
TEST_F(DeadlineTest, SlowStorageWithinTheDeadlineSucceeds) {
  Mount* m = StartMount();
  ASSERT_NE(m, nullptr);
  Ok(*m, "create", "roles/op", OpaqueRole());
  storage().SetDelay(milliseconds(100));
  RequestResult r = m->HandleRequest(Spec("read", "creds/op", nullptr, milliseconds(5000)));
  RecordCredential(r);
  storage().SetDelay(milliseconds(0));
  EXPECT_EQ(r.http_status, 200) << r.error;
  EXPECT_EQ(Introspect(*m, r.data.value("credential", "")).value("active", false), true);
}

}  // namespace
}  // namespace taskcred::test
