// Test helpers for the runtime tests: launching the mock plugin like a host,
// a one-shot fake Vault API for the unwrap call, a brokered in-memory
// pb.Storage, and certificate/JWT builders. Not thread-safe unless noted.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/handshake.h"
#include "runtime/tls.h"
#include "sdk/plugin/pb/backend.grpc.pb.h"

namespace taskcred::test {

// A child process with its stdout/stderr pipes.
struct Child {
  pid_t pid = -1;
  int out = -1, err = -1;
  ~Child();
};

// Starts `binary` with exactly `env` (no inherited environment) and `args`.
std::unique_ptr<Child> Spawn(const std::string& binary, const std::vector<std::string>& env,
                             const std::vector<std::string>& args = {});
// Reads until a newline, EOF or the timeout.
std::string ReadLine(int fd, std::chrono::milliseconds timeout);
std::string ReadAll(int fd);
// Exit code, 128+signal, or -1 (then the child is killed) after `timeout`.
int WaitExit(pid_t pid, std::chrono::seconds timeout);
std::vector<std::string> Split(const std::string& s, char sep);
std::string DerToPem(const std::string& der);

// The handshake line, split; fields[5] decoded to PEM in `plugin_cert_pem`.
struct Handshake {
  std::vector<std::string> fields;
  std::string plugin_cert_pem;
};
Handshake ReadHandshake(int fd);

// A channel to the plugin: mTLS with `identity` trusting `trust_pem` and
// checking `server_name`, or plaintext when `identity` is null.
std::shared_ptr<grpc::Channel> PluginChannel(const std::string& socket, const runtime::GeneratedCert* identity,
                                             const std::string& trust_pem, const std::string& server_name);

runtime::EnvGetter FakeEnv(std::map<std::string, std::string> vars);

// A JWT-shaped unwrap token whose payload carries `addr`.
std::string UnwrapJwt(const std::string& addr);

// Vault's legacy plugin identity: P-521, CN = SAN = `cn`, no basicConstraints.
struct LegacyIdentity {
  runtime::GeneratedCert cert;  // PEMs + DER
  std::string sec1_key_der;
};
LegacyIdentity MakeLegacyIdentity(const std::string& cn);
// The unwrap response body carrying `id`.
std::string UnwrapResponseBody(const LegacyIdentity& id);

// Answers one HTTP(S) request with `status`/`body`, recording what it saw.
class OneShotApi {
 public:
  struct Seen {
    std::string method, target, token, request_header;
  };
  OneShotApi(int status, std::string body, const runtime::GeneratedCert* tls_cert);
  ~OneShotApi();
  unsigned short port() const { return port_; }
  Seen seen();  // thread-safe

 private:
  template <typename Stream>
  void Answer(Stream& s, int status, const std::string& body);

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  Seen seen_;
};

// The host's brokered pb.Storage over a map. Thread-safe.
class MemStorage final : public ::pb::Storage::Service {
 public:
  grpc::Status List(grpc::ServerContext*, const ::pb::StorageListArgs* a, ::pb::StorageListReply* r) override;
  grpc::Status Get(grpc::ServerContext*, const ::pb::StorageGetArgs* a, ::pb::StorageGetReply* r) override;
  grpc::Status Put(grpc::ServerContext*, const ::pb::StoragePutArgs* a, ::pb::StoragePutReply* r) override;
  grpc::Status Delete(grpc::ServerContext*, const ::pb::StorageDeleteArgs* a, ::pb::StorageDeleteReply* r) override;
  size_t size();

 private:
  std::mutex mu_;
  std::map<std::string, std::string> m_;
};

// A brokered host endpoint on a fresh unix socket serving `storage`, with
// mTLS (host identity `identity`, trusting `trust_pem`) or plaintext.
class BrokerEndpoint {
 public:
  BrokerEndpoint(MemStorage* storage, const runtime::GeneratedCert* identity, const std::string& trust_pem);
  ~BrokerEndpoint();
  const std::string& path() const { return path_; }
  bool ok() const { return server_ != nullptr; }

 private:
  std::string path_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace taskcred::test
