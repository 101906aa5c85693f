// The brokered channel to the host's Storage/SystemView goes away while the
// mount lives: requests fail fast with a clear error (no hang, no crash, no
// credential, a revoke error Vault retries), and a new Setup over the same
// storage recovers with every earlier credential intact.
#include "fault_fixture.h"
#include "harness/task_layout.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

class BrokerFaultTest : public FaultTest {};

TEST_F(BrokerFaultTest, BrokerLossIsAClearErrorAndANewSetupRecovers) {
  PluginHost* host = StartHost();
  ASSERT_NE(host, nullptr);

  // Our own brokered server, so it can be stopped while the mount lives. The
  // harness numbers a host's broker ids from 1: announce ours for id 1 and let
  // the first Setup announce nothing.
  auto system_view = std::make_shared<FakeSystemView>();
  SystemViewConfig sv;
  sv.plugin_env.set_vault_version("2.1.0");
  system_view->Set(sv);
  auto broker = BrokerServer::Start(shared_storage(), system_view, host->tls());
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  ASSERT_TRUE(host->SendConnInfo(1, (*broker)->socket_path()));
  SetupOptions options;
  options.storage = shared_storage();
  options.system_view = system_view;
  options.multiplex_id = "mux-broker";
  options.conninfo = ConnInfoOrder::kNever;
  auto setup = host->Setup(options);
  ASSERT_TRUE(setup.ok()) << setup.status().ToString();
  Mount& m = **setup;
  ASSERT_EQ(m.broker_id(), 1u);
  ASSERT_TRUE(m.setup().ok() && m.setup().reply.err().empty()) << m.setup().reply.err();
  auto init = m.Initialize();
  ASSERT_TRUE(init.ok() && !init.reply.has_err()) << init.reply.err().err_msg();

  Ok(m, "create", "roles/backup", JwtRole());
  Ok(m, "create", "roles/op", OpaqueRole());
  RequestResult jwt = Issue(m, "creds/backup", {{"snapshot_id", "1"}});
  RequestResult opaque = Issue(m, "creds/op");
  RequestResult revoked = Issue(m, "creds/backup", {{"snapshot_id", "2"}});
  ASSERT_EQ(SecretOp(m, "revoke", revoked).http_status, 204);
  RequestResult cached = Issue(m, "creds/backup", {{"snapshot_id", "5"}});
  const StorageImage before = Image();
  // A known task is answered from the plugin's cache without storage (checked
  // below); forget two, so their introspection needs the (lost) storage.
  for (const RequestResult* r : {&jwt, &opaque}) {
    ASSERT_TRUE(m.InvalidateKey(TaskRecordKey(r->data["task_id"])).ok());
  }

  (*broker)->Stop();  // the channel drops

  // What this node wrote itself it still knows: a hot introspect needs no storage.
  RequestResult hot = Call(m, "update", "introspect", {{"token", cached.data["credential"]}}, std::chrono::seconds(8));
  EXPECT_EQ(hot.http_status, 200) << hot.error;
  EXPECT_EQ(hot.data.value("active", false), true);

  struct Probe {
    std::string name, op, path;
    json data;
  };
  const std::vector<Probe> probes = {
      {"introspect jwt", "update", "introspect", {{"token", jwt.data["credential"]}}},
      {"introspect opaque", "update", "introspect", {{"token", opaque.data["credential"]}}},
      {"issue jwt", "update", "creds/backup", {{"snapshot_id", "3"}}},
      {"issue opaque", "read", "creds/op", nullptr},
      {"list tasks", "list", "tasks/", nullptr},
  };
  for (const Probe& p : probes) {
    SCOPED_TRACE(p.name);
    auto start = steady_clock::now();
    RequestResult r = Call(m, p.op, p.path, p.data, std::chrono::seconds(8));
    auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
    RecordCredential(r);
    EXPECT_LT(took.count(), 4000) << "an unreachable host must fail fast, not wait for the deadline";
    EXPECT_GE(r.http_status, 500) << r.data.dump();
    EXPECT_TRUE(r.error.find("unreachable") != std::string::npos || r.error.find("storage") != std::string::npos)
        << "unclear error: " << r.error;
    EXPECT_FALSE(r.data.is_object() && r.data.contains("credential"));
    EXPECT_FALSE(r.data.is_object() && r.data.value("active", false)) << "active without reading the record";
  }
  RequestResult failed_revoke = SecretOp(m, "revoke", jwt);
  EXPECT_GE(failed_revoke.http_status, 500);
  EXPECT_EQ(failed_revoke.reply.err().err_type(), kErrTypeInternal) << failed_revoke.reply.DebugString();

  auto health = host->HealthCheck();
  EXPECT_TRUE(health.ok() && health.reply == 1) << "plugin no longer serving: " << health.status.error_message();
  EXPECT_TRUE(host->process().Running());
  EXPECT_EQ(Image(), before) << "the outage changed storage";

  // Vault sets the backend up again: new broker id, same storage.
  Mount* again = SetupMount(host, /*initialize=*/true, "mux-broker");
  ASSERT_NE(again, nullptr);
  EXPECT_NE(again->broker_id(), 1u);
  EXPECT_EQ(Introspect(*again, jwt.data["credential"]).value("active", false), true);
  EXPECT_EQ(Introspect(*again, opaque.data["credential"]).value("active", false), true);
  EXPECT_EQ(Introspect(*again, revoked.data["credential"]), json({{"active", false}}));
  RequestResult fresh = Issue(*again, "creds/backup", {{"snapshot_id", "4"}});
  EXPECT_EQ(Introspect(*again, fresh.data.value("credential", "")).value("active", false), true);
  EXPECT_EQ(SecretOp(*again, "revoke", jwt).http_status, 204);
  EXPECT_EQ(Introspect(*again, jwt.data["credential"]), json({{"active", false}}));
}

// The plugin is set up with a broker id the host never announces (Vault's
// side of the channel is gone before Setup): Setup fails with a clear error
// within the broker wait, and the plugin keeps serving other mounts.
TEST_F(BrokerFaultTest, SetupWithoutBrokerFailsClearly) {
  PluginHost* host = StartHost();
  ASSERT_NE(host, nullptr);
  SetupOptions options;
  options.storage = shared_storage();
  options.conninfo = ConnInfoOrder::kNever;
  auto start = steady_clock::now();
  auto setup = host->Setup(options);
  auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  ASSERT_TRUE(setup.ok()) << setup.status().ToString();
  const auto& reply = (*setup)->setup();
  EXPECT_FALSE(reply.ok() && reply.reply.err().empty()) << "Setup succeeded without a broker";
  std::string error = reply.status.error_message() + reply.reply.err();
  EXPECT_NE(error.find(std::to_string((*setup)->broker_id())), std::string::npos) << "unclear error: " << error;
  EXPECT_LT(took.count(), 9000);
  Mount* m = SetupMount(host);
  ASSERT_NE(m, nullptr);
  Ok(*m, "create", "roles/op", OpaqueRole());
  RequestResult r = Issue(*m, "creds/op");
  EXPECT_EQ(Introspect(*m, r.data.value("credential", "")).value("active", false), true);
}

}  // namespace
}  // namespace taskcred::test
