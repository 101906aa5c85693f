// taskcred-authz alone (issue 6): header/body limits, slow and idle
// clients, the connection limit, SIGTERM while a request is in flight, flags.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e_util.h"

namespace taskcred::test {
namespace {

using e2e::Headers;
using e2e::HttpReply;
using e2e::HttpRequest;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kIssuer[] = "https://vault.e2e.test/v1/taskcred";
constexpr char kAudience[] = "e2e-files";

class SidecarLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    jwks_ = dir_.Write("jwks.json", R"({"keys":[]})");
  }
  std::unique_ptr<e2e::Sidecar> Start(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--jwks", jwks_, "--issuer", kIssuer, "--audience", kAudience};
    args.insert(args.end(), extra.begin(), extra.end());
    auto s = e2e::Sidecar::Start(args);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  static bool WaitForLog(e2e::Sidecar& s, const std::string& message) {
    return s.process()
        .WaitForStderrLine(
            [&](const std::string& l) { return l.find("\"@message\":\"" + message + "\"") != std::string::npos; },
            std::chrono::seconds(5))
        .has_value();
  }

  e2e::TempDir dir_;
  std::string jwks_;
};

TEST_F(SidecarLimitsTest, OversizedHeaderGets431AndTheConnectionIsClosed) {
  auto s = Start({"--max-header-bytes", "4096"});
  ASSERT_TRUE(s);
  int fd = e2e::ConnectLoopback(s->port());
  ASSERT_GE(fd, 0);
  // 64 KiB of header: more than the limit and more than one read.
  ASSERT_TRUE(e2e::SendAll(fd, "GET /check HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(64 * 1024, 'a') + "\r\n\r\n"));
  e2e::ReadResult r = e2e::ReadUntilClosed(fd, std::chrono::seconds(5));
  ::close(fd);
  EXPECT_FALSE(r.timed_out) << "connection left open after 431";
  EXPECT_EQ(r.data.rfind("HTTP/1.1 431 ", 0), 0u) << r.data;
  EXPECT_THAT(r.data, HasSubstr("Connection: close"));
  // Still serving.
  EXPECT_EQ(HttpRequest(s->port(), "GET", "/healthz", {}).status, 200);
}

TEST_F(SidecarLimitsTest, OversizedBodyGets413AndTheConnectionIsClosed) {
  auto s = Start({"--max-body-bytes", "1024"});
  ASSERT_TRUE(s);
  int fd = e2e::ConnectLoopback(s->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(e2e::SendAll(fd, "POST /check HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                                   std::string(8192, 'b')));
  e2e::ReadResult r = e2e::ReadUntilClosed(fd, std::chrono::seconds(5));
  ::close(fd);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.data.rfind("HTTP/1.1 413 ", 0), 0u) << r.data;
}

TEST_F(SidecarLimitsTest, SlowClientIsTimedOut) {
  auto s = Start({"--read-timeout-ms", "400"});
  ASSERT_TRUE(s);
  int slow = e2e::ConnectLoopback(s->port());
  int silent = e2e::ConnectLoopback(s->port());
  ASSERT_GE(slow, 0);
  ASSERT_GE(silent, 0);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(e2e::SendAll(slow, "GET /check HTTP/1.1\r\nHost: x\r\nX-Resou"));  // and never the rest
  e2e::ReadResult r1 = e2e::ReadUntilClosed(slow, std::chrono::seconds(5));
  e2e::ReadResult r2 = e2e::ReadUntilClosed(silent, std::chrono::seconds(5));
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(slow);
  ::close(silent);
  EXPECT_FALSE(r1.timed_out) << "a client sending half a request kept its connection";
  EXPECT_FALSE(r2.timed_out) << "a client sending nothing kept its connection";
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_TRUE(WaitForLog(*s, "read timeout; connection closed"));
  EXPECT_EQ(HttpRequest(s->port(), "GET", "/healthz", {}).status, 200);
}

TEST_F(SidecarLimitsTest, IdleKeepAliveConnectionIsClosed) {
  auto s = Start({"--idle-timeout-ms", "300"});
  ASSERT_TRUE(s);
  int fd = e2e::ConnectLoopback(s->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(e2e::SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));  // keep-alive
  e2e::ReadResult r = e2e::ReadUntilClosed(fd, std::chrono::seconds(5));
  ::close(fd);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.data.rfind("HTTP/1.1 200 ", 0), 0u) << r.data;
  EXPECT_TRUE(WaitForLog(*s, "idle timeout; connection closed"));
}

TEST_F(SidecarLimitsTest, ConnectionsOverTheLimitGet503) {
  auto s = Start({"--max-connections", "2"});
  ASSERT_TRUE(s);
  int a = e2e::ConnectLoopback(s->port());
  int b = e2e::ConnectLoopback(s->port());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // Connections are accepted in order, so a and b are open when c arrives.
  int c = e2e::ConnectLoopback(s->port());
  ASSERT_GE(c, 0);
  e2e::ReadResult r = e2e::ReadUntilClosed(c, std::chrono::seconds(5));
  ::close(c);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.data.rfind("HTTP/1.1 503 ", 0), 0u) << r.data;
  EXPECT_TRUE(WaitForLog(*s, "connection refused: too many connections"));
  // Closing one frees a slot (the sidecar notices the close asynchronously).
  ::close(a);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    status = HttpRequest(s->port(), "GET", "/healthz", {}).status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status, 200);
  ::close(b);
}

// The server side of our connection has consumed everything we sent:
// /proc/net/tcp shows its receive queue empty. (Loopback delivery is
// synchronous, so the data is there as soon as send returns.)
bool ServerConsumed(int server_port, int client_fd) {
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  if (::getsockname(client_fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return false;
  const int client_port = ntohs(local.sin_port);
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string sl, local_addr, remote_addr, state, queues;
    ss >> sl >> local_addr >> remote_addr >> state >> queues;
    auto port_of = [](const std::string& a) { return std::stoi(a.substr(a.find(':') + 1), nullptr, 16); };
    if (port_of(local_addr) == server_port && port_of(remote_addr) == client_port) {
      return std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16) == 0;
    }
  }
  return false;
}

// Sends half a request on `fd` and waits until the sidecar has read it (the
// request is then in flight).
::testing::AssertionResult StartHalfRequest(int server_port, int fd) {
  if (!e2e::SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n")) return ::testing::AssertionFailure() << "send";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!ServerConsumed(server_port, fd)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return ::testing::AssertionFailure() << "the sidecar never read the first half of the request";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ::testing::AssertionSuccess();
}

TEST_F(SidecarLimitsTest, SigtermFinishesInFlightRequestsAndExitsZero) {
  auto s = Start({});
  ASSERT_TRUE(s);
  int idle = e2e::ConnectLoopback(s->port());
  int busy = e2e::ConnectLoopback(s->port());
  ASSERT_GE(idle, 0);
  ASSERT_GE(busy, 0);
  ASSERT_TRUE(StartHalfRequest(s->port(), busy));

  s->process().Signal(SIGTERM);
  ASSERT_TRUE(WaitForLog(*s, "shutting down"));
  // New connections are refused once the acceptor is closed; the idle one is closed.
  e2e::ReadResult idle_read = e2e::ReadUntilClosed(idle, std::chrono::seconds(5));
  EXPECT_FALSE(idle_read.timed_out) << "idle connection kept open during shutdown";
  EXPECT_TRUE(s->process().Running()) << "exited with a request in flight";
  // The in-flight request completes and is answered, then the process exits 0.
  ASSERT_TRUE(e2e::SendAll(busy, "\r\n"));
  e2e::ReadResult r = e2e::ReadUntilClosed(busy, std::chrono::seconds(5));
  ::close(busy);
  ::close(idle);
  EXPECT_EQ(r.data.rfind("HTTP/1.1 200 ", 0), 0u) << r.data;
  EXPECT_THAT(r.data, HasSubstr("Connection: close"));
  auto exit = s->process().WaitExit(std::chrono::seconds(10));
  ASSERT_TRUE(exit.has_value()) << "no exit after SIGTERM";
  EXPECT_TRUE(exit->exited && exit->code == 0) << exit->ToString();
  s->process().WaitOutputClosed();
  EXPECT_THAT(s->process().StderrText(), HasSubstr("\"@message\":\"stopped\""));
  EXPECT_LT(e2e::ConnectLoopback(s->port()), 0) << "still accepting after exit";
}

TEST_F(SidecarLimitsTest, SecondSignalStopsWithoutWaitingForTheGracePeriod) {
  auto s = Start({"--shutdown-grace-ms", "60000"});
  ASSERT_TRUE(s);
  int busy = e2e::ConnectLoopback(s->port());
  ASSERT_GE(busy, 0);
  ASSERT_TRUE(StartHalfRequest(s->port(), busy));
  s->process().Signal(SIGTERM);
  ASSERT_TRUE(WaitForLog(*s, "shutting down"));
  EXPECT_TRUE(s->process().Running()) << "did not wait for the request in flight";
  s->process().Signal(SIGINT);
  auto exit = s->process().WaitExit(std::chrono::seconds(5));
  ::close(busy);
  ASSERT_TRUE(exit.has_value()) << "a second signal did not stop it";
  EXPECT_TRUE(exit->exited && exit->code == 0) << exit->ToString();
  s->process().WaitOutputClosed();
  EXPECT_THAT(s->process().StderrText(), HasSubstr("second signal"));
}

TEST_F(SidecarLimitsTest, HelpAndFlagErrors) {
  struct Run {
    std::vector<std::string> args;
    int want_code;
    std::string want_text;  // in stdout (code 0) or stderr
  };
  const std::vector<Run> runs = {
      {{"--help"}, 0, "GET /check"},
      {{"-h"}, 0, "--max-connections"},
      {{"--jwks", jwks_, "--issuer", "i", "--audience", "a"}, 2, "--listen"},
      {{"--listen", "127.0.0.1:0", "--jwks", jwks_, "--issuer", "i", "--audience", "a", "--max-connections", "0"},
       2,
       "--max-connections"},
      {{"--listen", "127.0.0.1:0", "--jwks", jwks_, "--issuer", "i", "--audience", "a", "--idle-timeout-ms", "x"},
       2,
       "--idle-timeout-ms"},
      {{"--listen", "127.0.0.1:99999", "--jwks", jwks_, "--issuer", "i", "--audience", "a"}, 2, "port"},
      {{"--listen", "127.0.0.1:0", "--bogus"}, 2, "--bogus"},
  };
  for (const Run& run : runs) {
    SCOPED_TRACE(::testing::PrintToString(run.args));
    auto p = PluginProcess::Launch({.binary = e2e::AuthzPath(), .args = run.args, .env = {{"PATH", "/usr/bin:/bin"}}});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    auto exit = (*p)->WaitExit(std::chrono::seconds(10));
    ASSERT_TRUE(exit.has_value()) << "did not exit";
    (*p)->WaitOutputClosed();
    EXPECT_TRUE(exit->exited) << exit->ToString();
    EXPECT_EQ(exit->code, run.want_code) << (*p)->StderrText();
    EXPECT_THAT(run.want_code == 0 ? (*p)->StdoutText() : (*p)->StderrText(), HasSubstr(run.want_text));
  }
}

}  // namespace
}  // namespace taskcred::test
