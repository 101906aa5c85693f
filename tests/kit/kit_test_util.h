// Test helpers of the enforcement kit: a loopback HTTP server with a handler
// function (JWKS endpoint, Vault introspect shim), token minting, process
// running and small socket helpers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/signing_key.h"
#include "harness/process.h"

namespace taskcred::test {

struct TestRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

struct TestResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::chrono::milliseconds delay{0};  // before answering
};

// An HTTP/1.1 server on 127.0.0.1:<ephemeral>, one request per connection,
// one thread per connection. The handler may be called concurrently.
class TestHttpServer {
 public:
  using Handler = std::function<TestResponse(const TestRequest&)>;
  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();  // stops and joins

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int request_count() const { return requests_.load(); }
  // Blocks until request_count() >= n or the timeout passes.
  bool WaitForRequests(int n, std::chrono::milliseconds timeout);

 private:
  void AcceptLoop();
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
};

// Whole seconds since the Unix epoch, by the wall clock.
int64_t UnixNow();

// A JWT signed by `key` with header kid `kid` (crypto::SignJwt).
std::string Mint(const crypto::SigningKey& key, const std::string& kid, const nlohmann::json& claims);

// {"keys":[jwk...]} of the given (key, kid) pairs.
nlohmann::json Jwks(const std::vector<std::pair<const crypto::SigningKey*, std::string>>& keys);

struct RunResult {
  int exit_code = -1;  // -1 when killed or timed out
  std::string out;
  std::string err;
};
// Runs `binary args...` with PATH/HOME plus `env`, stdin from /dev/null,
// waits at most `timeout`.
RunResult RunTool(const std::string& binary, const std::vector<std::string>& args, const Env& env = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(20));
// Same with `stdin_text` on standard input (through /bin/sh).
RunResult RunWithStdin(const std::string& binary, const std::vector<std::string>& args, const std::string& stdin_text,
                       const Env& env = {});

// A fresh temporary directory (removed by the destructor).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const;  // returns the full path

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Connects to 127.0.0.1:port; -1 on failure.
int ConnectLoopback(int port);
// Reads until EOF or `timeout`; returns what was read and whether EOF was seen.
std::pair<std::string, bool> ReadAll(int fd, std::chrono::milliseconds timeout);
bool WriteAll(int fd, const std::string& data);

// A running taskcred-authz: launched with `args` (plus --listen 127.0.0.1:0),
// its bound port read from the "listening" log line.
class Sidecar {
 public:
  static std::unique_ptr<Sidecar> Start(const std::vector<std::string>& args, const Env& env = {});
  ~Sidecar();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  PluginProcess& process() { return *process_; }

 private:
  std::unique_ptr<PluginProcess> process_;
  int port_ = 0;
};

std::string AuthzPath();
std::string VerifyPath();

}  // namespace taskcred::test
