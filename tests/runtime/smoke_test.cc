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
#include <string>
#include <vector>

#include "crypto/encoding.h"
#include "goplugin/grpc_controller.grpc.pb.h"
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
