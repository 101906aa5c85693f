// Launches taskcred-mock-plugin the way hosts do and checks: the handshake in
// each TLS mode (AutoMTLS with a P-521 host cert, legacy unwrap-token TLS,
// plaintext), health, brokered Setup + a 10 MiB kv round trip, two
// multiplexed mounts kept apart, Version/Cleanup, Shutdown/SIGTERM, and the
// refusals (no cookie, PLUGIN_MULTIPLEX_GRPC).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "goplugin/grpc_broker.grpc.pb.h"
#include "goplugin/grpc_controller.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "runtime/test_support.h"
#include "sdk/helper/pluginutil/multiplexing.grpc.pb.h"
#include "sdk/logical/version.grpc.pb.h"
#include "sdk/plugin/pb/backend.grpc.pb.h"

namespace taskcred::test {
namespace {

using runtime::GeneratedCert;
using runtime::GenerateSelfSignedCert;
using runtime::KeyCurve;

const std::string kCookie = "VAULT_BACKEND_PLUGIN=6669da05-b1c8-4f49-97d9-c8e5bed98e20";
const std::string kBinary = TASKCRED_MOCK_PLUGIN_BIN;

grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& ch) {
  auto health = grpc::health::v1::Health::NewStub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("plugin");
  grpc::health::v1::HealthCheckResponse rep;
  grpc::Status s = health->Check(&ctx, req, &rep);
  if (s.ok() && rep.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return grpc::Status(grpc::StatusCode::UNKNOWN, "not SERVING");
  }
  return s;
}

// Drives pb.Backend on one plugin connection, as a host does.
class Host {
 public:
  explicit Host(std::shared_ptr<grpc::Channel> ch)
      : channel_(std::move(ch)),
        backend_(::pb::Backend::NewStub(channel_)),
        broker_(::plugin::GRPCBroker::NewStub(channel_)) {
    stream_ = broker_->StartStream(&stream_ctx_);
  }
  ~Host() {
    stream_ctx_.TryCancel();
    (void)stream_->Finish();
  }

  // Setup for `mux` with broker id `id`; the ConnInfo is sent after Setup started.
  ::pb::SetupReply Setup(const std::string& mux, uint32_t id, const std::string& broker_path) {
    ::pb::SetupReply reply;
    grpc::Status status;
    std::thread t([&] {
      grpc::ClientContext ctx;
      Prepare(ctx, mux);
      ::pb::SetupArgs a;
      a.set_broker_id(id);
      (*a.mutable_config())["plugin_name"] = "mock";
      status = backend_->Setup(&ctx, a, &reply);
    });
    ::plugin::ConnInfo info;
    info.set_service_id(id);
    info.set_network("unix");
    info.set_address(broker_path);
    EXPECT_TRUE(stream_->Write(info));
    t.join();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return reply;
  }

  ::pb::HandleRequestReply Request(const std::string& mux, const std::string& op, const std::string& path,
                                   const nlohmann::json& data = nullptr, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    Prepare(ctx, mux);
    ::pb::HandleRequestArgs a;
    a.mutable_request()->set_operation(op);
    a.mutable_request()->set_path(path);
    a.mutable_request()->set_data(data.dump());
    ::pb::HandleRequestReply r;
    grpc::Status s = backend_->HandleRequest(&ctx, a, &r);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return r;
  }

  grpc::Status Cleanup(const std::string& mux) {
    grpc::ClientContext ctx;
    Prepare(ctx, mux);
    ::pb::Empty e;
    return backend_->Cleanup(&ctx, e, &e);
  }

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  static void Prepare(grpc::ClientContext& ctx, const std::string& mux) {
    if (!mux.empty()) ctx.AddMetadata("multiplex_id", mux);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::pb::Backend::Stub> backend_;
  std::unique_ptr<::plugin::GRPCBroker::Stub> broker_;
  grpc::ClientContext stream_ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<::plugin::ConnInfo, ::plugin::ConnInfo>> stream_;
};

TEST(SmokeTest, AutoMtlsHandshakeHealthAndShutdown) {
  auto host = GenerateSelfSignedCert(KeyCurve::kP521);
  ASSERT_TRUE(host.ok());
  auto c = Spawn(kBinary, {kCookie, "PLUGIN_PROTOCOL_VERSIONS=5", "PLUGIN_CLIENT_CERT=" + host->cert_pem,
                           "VAULT_PLUGIN_AUTOMTLS_ENABLED=true", "VAULT_PLUGIN_METADATA_MODE=false", "TMPDIR=/tmp"});
  ASSERT_TRUE(c);
  Handshake h = ReadHandshake(c->out);
  ASSERT_EQ(h.fields.size(), 6u);
  EXPECT_EQ(h.fields[0], "1");
  EXPECT_EQ(h.fields[1], "5");
  EXPECT_EQ(h.fields[2], "unix");
  EXPECT_EQ(h.fields[3].rfind("/tmp/plugin", 0), 0u) << h.fields[3];
  EXPECT_EQ(h.fields[4], "grpc");
  EXPECT_GT(h.fields[5].size(), 50u);
  EXPECT_EQ(h.fields[5].find('='), std::string::npos);
  ASSERT_FALSE(h.plugin_cert_pem.empty());

  auto ch = PluginChannel(h.fields[3], &*host, h.plugin_cert_pem, "localhost");
  grpc::Status s = HealthCheck(ch);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // A client without the host's certificate is refused.
  auto stranger = GenerateSelfSignedCert(KeyCurve::kP256);
  ASSERT_TRUE(stranger.ok());
  EXPECT_FALSE(HealthCheck(PluginChannel(h.fields[3], &*stranger, h.plugin_cert_pem, "localhost")).ok());

  auto controller = ::plugin::GRPCController::NewStub(ch);
  grpc::ClientContext sctx;
  sctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ::plugin::Empty e;
  EXPECT_TRUE(controller->Shutdown(&sctx, e, &e).ok());
  EXPECT_EQ(WaitExit(c->pid, std::chrono::seconds(10)), 0);
  EXPECT_EQ(access(h.fields[3].c_str(), F_OK), -1) << "socket left behind";
}

TEST(SmokeTest, BrokeredSetupTenMiBAndMultiplexedIsolation) {
  auto host = GenerateSelfSignedCert(KeyCurve::kP521);
  ASSERT_TRUE(host.ok());
  auto c = Spawn(kBinary, {kCookie, "PLUGIN_PROTOCOL_VERSIONS=5", "PLUGIN_CLIENT_CERT=" + host->cert_pem,
                           "VAULT_PLUGIN_AUTOMTLS_ENABLED=true"});
  Handshake h = ReadHandshake(c->out);
  ASSERT_EQ(h.fields.size(), 6u);
  Host bao(PluginChannel(h.fields[3], &*host, h.plugin_cert_pem, "localhost"));

  // Version answers before any Setup; multiplexing is offered on v5.
  auto version = ::logical::PluginVersion::NewStub(bao.channel());
  grpc::ClientContext vctx;
  ::logical::Empty ve;
  ::logical::VersionReply vr;
  ASSERT_TRUE(version->Version(&vctx, ve, &vr).ok());
  EXPECT_EQ(vr.plugin_version().rfind("v", 0), 0u);
  auto mux = ::pluginutil::multiplexing::PluginMultiplexing::NewStub(bao.channel());
  grpc::ClientContext mctx;
  ::pluginutil::multiplexing::MultiplexingSupportRequest mreq;
  ::pluginutil::multiplexing::MultiplexingSupportResponse mrep;
  ASSERT_TRUE(mux->MultiplexingSupport(&mctx, mreq, &mrep).ok());
  EXPECT_TRUE(mrep.supported());

  MemStorage storage_a, storage_b;
  BrokerEndpoint broker_a(&storage_a, &*host, h.plugin_cert_pem);
  BrokerEndpoint broker_b(&storage_b, &*host, h.plugin_cert_pem);
  ASSERT_TRUE(broker_a.ok() && broker_b.ok());
  EXPECT_EQ(bao.Setup("mountAAAAA", 1, broker_a.path()).err(), "");
  EXPECT_EQ(bao.Setup("mountBBBBB", 2, broker_b.path()).err(), "");

  const std::string big(10 * 1024 * 1024, 'v');
  auto w = bao.Request("mountAAAAA", "update", "kv/big", {{"value", big}});
  EXPECT_FALSE(w.has_err()) << w.err().err_msg();
  auto r = bao.Request("mountAAAAA", "read", "kv/big");
  ASSERT_FALSE(r.has_err()) << r.err().err_msg();
  EXPECT_EQ(nlohmann::json::parse(r.response().data())["value"].get<std::string>().size(), big.size());
  EXPECT_EQ(storage_a.size(), 1u);
  EXPECT_EQ(storage_b.size(), 0u);
  auto other = bao.Request("mountBBBBB", "read", "kv/big");
  EXPECT_FALSE(other.has_err());
  EXPECT_FALSE(other.has_response()) << "mount B must not see mount A's storage";

  auto denied = bao.Request("mountAAAAA", "read", "errors/permission_denied");
  EXPECT_EQ(denied.err().err_type(), 8u);
  auto thrown = bao.Request("mountAAAAA", "read", "errors/throw");
  EXPECT_EQ(thrown.err().err_type(), 2u);
  EXPECT_NE(thrown.err().err_msg().find("error id"), std::string::npos);

  ASSERT_TRUE(bao.Cleanup("mountAAAAA").ok());
  grpc::Status gone;
  bao.Request("mountAAAAA", "read", "kv/big", nullptr, &gone);
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "no instance after Cleanup";
  EXPECT_NE(gone.error_message().find("mountAAAAA"), std::string::npos);
  EXPECT_FALSE(bao.Request("mountBBBBB", "read", "kv/none").has_err());

  kill(c->pid, SIGTERM);
  EXPECT_EQ(WaitExit(c->pid, std::chrono::seconds(10)), 0);
}

TEST(SmokeTest, LegacyUnwrapTokenTls) {
  const std::string uuid = "0f7d1c2e-5b6a-4c3d-9e8f-a1b2c3d4e5f6";
  LegacyIdentity id = MakeLegacyIdentity(uuid);
  OneShotApi api(200, UnwrapResponseBody(id), nullptr);
  std::string token = UnwrapJwt("http://127.0.0.1:" + std::to_string(api.port()));
  auto c = Spawn(kBinary, {kCookie, "PLUGIN_PROTOCOL_VERSIONS=3,4", "VAULT_PLUGIN_METADATA_MODE=false",
                           "VAULT_UNWRAP_TOKEN=" + token});
  Handshake h = ReadHandshake(c->out);
  ASSERT_EQ(h.fields.size(), 6u) << ReadAll(c->err);
  EXPECT_EQ(h.fields[1], "4");
  EXPECT_EQ(h.fields[5], "") << "no cert field outside AutoMTLS";
  EXPECT_EQ(api.seen().token, token);

  // The host presents the same wrapped identity and checks the plugin as the UUID CN.
  Host vault(PluginChannel(h.fields[3], &id.cert, id.cert.cert_pem, uuid));
  grpc::Status s = HealthCheck(vault.channel());
  ASSERT_TRUE(s.ok()) << s.error_message();
  MemStorage storage;
  BrokerEndpoint broker(&storage, &id.cert, id.cert.cert_pem);
  ASSERT_TRUE(broker.ok());
  EXPECT_EQ(vault.Setup("", 1, broker.path()).err(), "");
  auto w = vault.Request("", "update", "kv/x", {{"v", 1}});
  EXPECT_FALSE(w.has_err()) << w.err().err_msg();
  EXPECT_EQ(storage.size(), 1u);

  kill(c->pid, SIGTERM);
  EXPECT_EQ(WaitExit(c->pid, std::chrono::seconds(10)), 0);
}

TEST(SmokeTest, PlaintextMetadataModeV4AndSigterm) {
  auto c = Spawn(kBinary, {kCookie, "PLUGIN_PROTOCOL_VERSIONS=4,3", "VAULT_PLUGIN_METADATA_MODE=true"});
  Handshake h = ReadHandshake(c->out);
  ASSERT_EQ(h.fields.size(), 6u);
  EXPECT_EQ(h.fields[1], "4");
  EXPECT_EQ(h.fields[5], "");
  // Type and SpecialPaths answer without Setup (and without storage).
  auto backend = ::pb::Backend::NewStub(PluginChannel(h.fields[3], nullptr, "", ""));
  grpc::ClientContext tctx;
  ::pb::Empty e;
  ::pb::TypeReply type;
  ASSERT_TRUE(backend->Type(&tctx, e, &type).ok());
  EXPECT_EQ(type.type(), 1u);
  grpc::ClientContext pctx;
  ::pb::SpecialPathsReply paths;
  ASSERT_TRUE(backend->SpecialPaths(&pctx, e, &paths).ok());
  EXPECT_EQ(paths.paths().root(0), "root/*");

  kill(c->pid, SIGINT);  // ignored
  kill(c->pid, SIGTERM);
  EXPECT_EQ(WaitExit(c->pid, std::chrono::seconds(10)), 0);
}

TEST(SmokeTest, SocketDirGroupAndLogLevelFromEnv) {
  std::string dir = ::testing::TempDir();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const std::string gid = std::to_string(getgid());
  auto c = Spawn(kBinary, {kCookie, "PLUGIN_PROTOCOL_VERSIONS=4", "VAULT_PLUGIN_METADATA_MODE=true",
                           "PLUGIN_UNIX_SOCKET_DIR=" + dir, "PLUGIN_UNIX_SOCKET_GROUP=" + gid,
                           "BAO_LOG_LEVEL=debug", "VAULT_LOG_LEVEL=error"});
  Handshake h = ReadHandshake(c->out);
  ASSERT_EQ(h.fields.size(), 6u);
  EXPECT_EQ(h.fields[3].rfind(dir + "/plugin", 0), 0u) << h.fields[3];
  struct stat sb {};
  ASSERT_EQ(stat(h.fields[3].c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0660u);
  EXPECT_EQ(std::to_string(sb.st_gid), gid);
  EXPECT_TRUE(HealthCheck(PluginChannel(h.fields[3], nullptr, "", "")).ok());
  kill(c->pid, SIGTERM);
  EXPECT_EQ(WaitExit(c->pid, std::chrono::seconds(10)), 0);
  // BAO_LOG_LEVEL (debug) wins over VAULT_LOG_LEVEL (error): the debug start-up line is there.
  std::string err = ReadAll(c->err);
  EXPECT_NE(err.find("\"@message\":\"plugin serving\""), std::string::npos) << err;
  EXPECT_NE(err.find("\"@level\":\"debug\""), std::string::npos) << err;
}

// Start-up refusals: exit 1, nothing on stdout, a clear message on stderr.
TEST(SmokeTest, RefusesToStart) {
  struct Case {
    std::string name;
    std::vector<std::string> env;
    std::vector<std::string> want_stderr;
  };
  const std::vector<Case> cases = {
      {"no cookie", {"PLUGIN_PROTOCOL_VERSIONS=5"}, {"is a Vault/OpenBao plugin", "plugin register"}},
      {"wrong cookie", {"VAULT_BACKEND_PLUGIN=nope", "PLUGIN_PROTOCOL_VERSIONS=5"}, {"is a Vault/OpenBao plugin"}},
      {"multiplexed broker",
       {kCookie, "PLUGIN_PROTOCOL_VERSIONS=5", "PLUGIN_MULTIPLEX_GRPC=true"},
       {"PLUGIN_MULTIPLEX_GRPC", "\"@level\":\"error\""}},
      {"unwrap token without api_addr",
       {kCookie, "PLUGIN_PROTOCOL_VERSIONS=4", "VAULT_UNWRAP_TOKEN=" + UnwrapJwt("")},
       {"set api_addr on the Vault server"}},
      {"unreachable Vault API",
       {kCookie, "PLUGIN_PROTOCOL_VERSIONS=4", "VAULT_UNWRAP_TOKEN=" + UnwrapJwt("http://127.0.0.1:1")},
       {"cannot reach the Vault API"}},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto c = Spawn(kBinary, tc.env);
    ASSERT_TRUE(c);
    std::string out = ReadAll(c->out);
    std::string err = ReadAll(c->err);
    EXPECT_EQ(WaitExit(c->pid, std::chrono::seconds(10)), 1);
    EXPECT_EQ(out, "");
    for (const auto& want : tc.want_stderr) EXPECT_NE(err.find(want), std::string::npos) << err;
  }
}

// A Vault API that accepts the connection and never answers: the plugin gives
// up within TASKCRED_UNWRAP_TIMEOUT, exits 1 and says why (plain and TLS).
TEST(SmokeTest, SilentVaultApiBoundsTheUnwrapCall) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::string port = std::to_string(silent.local_endpoint().port());
  for (const std::string scheme : {"http", "https"}) {
    SCOPED_TRACE(scheme);
    auto start = std::chrono::steady_clock::now();
    auto c = Spawn(kBinary, {kCookie, "PLUGIN_PROTOCOL_VERSIONS=4", "TASKCRED_UNWRAP_TIMEOUT=2",
                             "VAULT_SKIP_VERIFY=true",
                             "VAULT_UNWRAP_TOKEN=" + UnwrapJwt(scheme + "://127.0.0.1:" + port)});
    ASSERT_TRUE(c);
    std::string out = ReadAll(c->out);
    std::string err = ReadAll(c->err);
    EXPECT_EQ(WaitExit(c->pid, std::chrono::seconds(20)), 1);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(out, "");
    EXPECT_NE(err.find("did not answer the unwrap call within 2 s"), std::string::npos) << err;
    EXPECT_NE(err.find("\"@level\":\"error\""), std::string::npos) << err;
    EXPECT_GE(took, std::chrono::milliseconds(1900));
    EXPECT_LT(took, std::chrono::seconds(10));
  }
}

}  // namespace
}  // namespace taskcred::test
