// Launches taskcred-mock-plugin the way a host does and checks the handshake,
// an AutoMTLS health check with a P-521 host certificate, Shutdown, and the
// refusal to run without the magic cookie.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "crypto/encoding.h"
#include "goplugin/grpc_broker.grpc.pb.h"
#include "goplugin/grpc_controller.grpc.pb.h"
#include "sdk/plugin/pb/backend.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "runtime/tls.h"

namespace taskcred::runtime {
namespace {

struct Child {
  pid_t pid = -1;
  int out = -1, err = -1;
};

Child Spawn(const std::vector<std::string>& env) {
  int out[2], err[2];
  EXPECT_EQ(pipe(out), 0);
  EXPECT_EQ(pipe(err), 0);
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>(TASKCRED_MOCK_PLUGIN_BIN), nullptr};
    execve(argv[0], argv, envp.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  c.out = out[0];
  c.err = err[0];
  return c;
}

// Reads from `fd` until a newline (or EOF / timeout).
std::string ReadLine(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  return line;
}

std::string ReadAll(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    usleep(10000);  // polling a child's exit: no pidfd in this test helper
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string DerToPem(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (x == nullptr) return "";
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(b);
  X509_free(x);
  return pem;
}

TEST(SmokeTest, AutoMtlsHandshakeHealthAndShutdown) {
  auto host = GenerateSelfSignedCert(KeyCurve::kP521);
  ASSERT_TRUE(host.ok());
  Child c = Spawn({"VAULT_BACKEND_PLUGIN=6669da05-b1c8-4f49-97d9-c8e5bed98e20", "PLUGIN_PROTOCOL_VERSIONS=5",
                   "PLUGIN_CLIENT_CERT=" + host->cert_pem, "VAULT_PLUGIN_AUTOMTLS_ENABLED=true",
                   "VAULT_PLUGIN_METADATA_MODE=false", "TMPDIR=/tmp"});
  ASSERT_GT(c.pid, 0);
  std::string line = ReadLine(c.out, std::chrono::seconds(10));
  ASSERT_FALSE(line.empty()) << "no handshake line";
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  auto f = Split(line, '|');
  ASSERT_EQ(f.size(), 6u) << line;
  EXPECT_EQ(f[0], "1");
  EXPECT_EQ(f[1], "5");
  EXPECT_EQ(f[2], "unix");
  EXPECT_EQ(f[3].rfind("/tmp/plugin", 0), 0u) << f[3];
  EXPECT_EQ(f[4], "grpc");
  EXPECT_GT(f[5].size(), 50u);
  EXPECT_EQ(f[5].find('='), std::string::npos);
  std::string padded = f[5] + std::string((4 - f[5].size() % 4) % 4, '=');
  auto der = crypto::Base64Decode(padded);
  ASSERT_TRUE(der.ok());
  std::string plugin_pem = DerToPem(*der);
  ASSERT_FALSE(plugin_pem.empty());

  // mTLS with the P-521 host identity, verifying the plugin as "localhost".
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = plugin_pem;
  o.pem_private_key = host->key_pem;
  o.pem_cert_chain = host->cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto channel = grpc::CreateCustomChannel("unix:" + f[3], grpc::SslCredentials(o), args);
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("plugin");
  grpc::health::v1::HealthCheckResponse rep;
  grpc::Status s = health->Check(&ctx, req, &rep);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rep.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  auto controller = ::plugin::GRPCController::NewStub(channel);
  grpc::ClientContext sctx;
  sctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ::plugin::Empty e;
  EXPECT_TRUE(controller->Shutdown(&sctx, e, &e).ok());
  EXPECT_EQ(WaitExit(c.pid, std::chrono::seconds(10)), 0);
  EXPECT_EQ(access(f[3].c_str(), F_OK), -1) << "socket left behind";
  close(c.out);
  close(c.err);
}

// The host side of the broker: an in-memory pb.Storage.
class MemStorage final : public ::pb::Storage::Service {
 public:
  grpc::Status Get(grpc::ServerContext*, const ::pb::StorageGetArgs* a, ::pb::StorageGetReply* r) override {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = m_.find(a->key()); it != m_.end()) {
      r->mutable_entry()->set_key(a->key());
      r->mutable_entry()->set_value(it->second);
    }
    return grpc::Status::OK;
  }
  grpc::Status Put(grpc::ServerContext*, const ::pb::StoragePutArgs* a, ::pb::StoragePutReply*) override {
    std::lock_guard<std::mutex> l(mu_);
    m_[a->entry().key()] = a->entry().value();
    return grpc::Status::OK;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> m_;
};

TEST(SmokeTest, BrokeredSetupAndTenMiBValueRoundTrip) {
  auto host = GenerateSelfSignedCert(KeyCurve::kP521);
  ASSERT_TRUE(host.ok());
  Child c = Spawn({"VAULT_BACKEND_PLUGIN=6669da05-b1c8-4f49-97d9-c8e5bed98e20", "PLUGIN_PROTOCOL_VERSIONS=5",
                   "PLUGIN_CLIENT_CERT=" + host->cert_pem, "VAULT_PLUGIN_AUTOMTLS_ENABLED=true"});
  std::string line = ReadLine(c.out, std::chrono::seconds(10));
  auto f = Split(line.substr(0, line.find('\n')), '|');
  ASSERT_EQ(f.size(), 6u) << line;
  auto der = crypto::Base64Decode(f[5] + std::string((4 - f[5].size() % 4) % 4, '='));
  ASSERT_TRUE(der.ok());
  std::string plugin_pem = DerToPem(*der);

  // Brokered host server: requires the plugin's cert, presents the host's.
  MemStorage storage;
  grpc::SslServerCredentialsOptions so(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  so.pem_root_certs = plugin_pem;
  so.pem_key_cert_pairs.push_back({host->key_pem, host->cert_pem});
  std::string broker_path = "/tmp/taskcred-broker-" + std::to_string(getpid());
  grpc::ServerBuilder b;
  b.AddListeningPort("unix:" + broker_path, grpc::SslServerCredentials(so));
  b.SetMaxReceiveMessageSize(INT32_MAX);
  b.SetMaxSendMessageSize(INT32_MAX);
  b.RegisterService(&storage);
  auto broker_server = b.BuildAndStart();
  ASSERT_NE(broker_server, nullptr);

  grpc::SslCredentialsOptions o;
  o.pem_root_certs = plugin_pem;
  o.pem_private_key = host->key_pem;
  o.pem_cert_chain = host->cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  auto channel = grpc::CreateCustomChannel("unix:" + f[3], grpc::SslCredentials(o), args);

  // Setup first, ConnInfo afterwards: the plugin must wait for it.
  auto backend = ::pb::Backend::NewStub(channel);
  ::pb::SetupReply setup_reply;
  grpc::ClientContext setup_ctx;
  setup_ctx.AddMetadata("multiplex_id", "mount00001");
  ::pb::SetupArgs setup;
  setup.set_broker_id(1);
  (*setup.mutable_config())["plugin_name"] = "mock";
  grpc::Status setup_status;
  std::thread setup_thread([&] { setup_status = backend->Setup(&setup_ctx, setup, &setup_reply); });
  auto broker = ::plugin::GRPCBroker::NewStub(channel);
  grpc::ClientContext stream_ctx;
  auto stream = broker->StartStream(&stream_ctx);
  ::plugin::ConnInfo info;
  info.set_service_id(1);
  info.set_network("unix");
  info.set_address(broker_path);
  ASSERT_TRUE(stream->Write(info));
  setup_thread.join();
  ASSERT_TRUE(setup_status.ok()) << setup_status.error_message();
  EXPECT_EQ(setup_reply.err(), "");

  const std::string big(10 * 1024 * 1024, 'v');
  auto call = [&](const std::string& op, const std::string& path, const std::string& data) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("multiplex_id", "mount00001");
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ::pb::HandleRequestArgs a;
    a.mutable_request()->set_operation(op);
    a.mutable_request()->set_path(path);
    a.mutable_request()->set_data(data);
    ::pb::HandleRequestReply r;
    grpc::Status s = backend->HandleRequest(&ctx, a, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return r;
  };
  auto w = call("update", "kv/big", nlohmann::json{{"value", big}}.dump());
  EXPECT_FALSE(w.has_err()) << w.err().err_msg();
  auto r = call("read", "kv/big", "null");
  ASSERT_FALSE(r.has_err()) << r.err().err_msg();
  auto data = nlohmann::json::parse(r.response().data());
  EXPECT_EQ(data["value"].get<std::string>().size(), big.size());
  auto e = call("read", "errors/permission_denied", "");
  EXPECT_EQ(e.err().err_type(), 8u);
  auto t = call("read", "errors/throw", "");
  EXPECT_EQ(t.err().err_type(), 2u);
  EXPECT_NE(t.err().err_msg().find("error id"), std::string::npos);

  stream_ctx.TryCancel();
  stream->Finish().ok();
  kill(c.pid, SIGTERM);
  EXPECT_EQ(WaitExit(c.pid, std::chrono::seconds(10)), 0);
  broker_server->Shutdown(std::chrono::system_clock::now());
  unlink(broker_path.c_str());
  close(c.out);
  close(c.err);
}

TEST(SmokeTest, PlaintextV4AndSigterm) {
  Child c = Spawn({"VAULT_BACKEND_PLUGIN=6669da05-b1c8-4f49-97d9-c8e5bed98e20", "PLUGIN_PROTOCOL_VERSIONS=4,3",
                   "VAULT_PLUGIN_METADATA_MODE=true"});
  std::string line = ReadLine(c.out, std::chrono::seconds(10));
  auto f = Split(line.substr(0, line.find('\n')), '|');
  ASSERT_EQ(f.size(), 6u) << line;
  EXPECT_EQ(f[1], "4");
  EXPECT_EQ(f[5], "");  // no cert outside AutoMTLS
  kill(c.pid, SIGINT);  // ignored
  kill(c.pid, SIGTERM);
  EXPECT_EQ(WaitExit(c.pid, std::chrono::seconds(10)), 0);
  close(c.out);
  close(c.err);
}

TEST(SmokeTest, WithoutCookieExitsOneWithMessage) {
  Child c = Spawn({"PLUGIN_PROTOCOL_VERSIONS=5"});
  std::string out = ReadAll(c.out);
  std::string err = ReadAll(c.err);
  EXPECT_EQ(WaitExit(c.pid, std::chrono::seconds(10)), 1);
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find("This binary is a plugin"), std::string::npos) << err;
  close(c.out);
  close(c.err);
}

TEST(SmokeTest, MultiplexedBrokerRequestIsRefusedLoudly) {
  Child c = Spawn({"VAULT_BACKEND_PLUGIN=6669da05-b1c8-4f49-97d9-c8e5bed98e20", "PLUGIN_PROTOCOL_VERSIONS=5",
                   "PLUGIN_MULTIPLEX_GRPC=true"});
  std::string out = ReadAll(c.out);
  std::string err = ReadAll(c.err);
  EXPECT_EQ(WaitExit(c.pid, std::chrono::seconds(10)), 1);
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find("PLUGIN_MULTIPLEX_GRPC"), std::string::npos) << err;
  EXPECT_NE(err.find("\"@level\":\"error\""), std::string::npos) << err;
}

}  // namespace
}  // namespace taskcred::runtime
