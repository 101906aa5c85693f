// FakeVaultApi: the part of Vault's HTTP API a legacy-TLS plugin calls.
//
// Listens on 127.0.0.1:<ephemeral> over HTTP or HTTPS (Boost.Beast) and
// answers PUT /v1/sys/wrapping/unwrap: the X-Vault-Token header must carry a
// registered wrapping token; the wrapped data is returned once (single use),
// a second use or an unknown token gets 400 {"errors":["wrapping token is not
// valid or does not exist"]} as Vault answers. Everything else is 404.
//
// MakeUnwrapJwt builds the JWT-shaped token Vault hands the plugin in
// VAULT_UNWRAP_TOKEN (header.payload.signature; payload carries `addr`).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "harness/certs.h"

namespace taskcred::test {

class FakeVaultApi {
 public:
  struct Options {
    bool tls = false;
    CertKey server_cert;  // used when tls (issue it from a test CA)
  };
  struct RequestRecord {
    std::string method, target, token, vault_request_header;
    int status = 0;
  };

  static common::Result<std::unique_ptr<FakeVaultApi>> Start(const Options& options);
  ~FakeVaultApi();

  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT".
  const std::string& addr() const { return addr_; }
  int port() const { return port_; }

  // Registers a single-use token whose unwrap returns {"data": data}.
  void AddWrappedSecret(const std::string& token, nlohmann::json data);
  // Answers every unwrap with this status and Vault-style error body.
  void RefuseAll(int http_status, std::string message);
  std::vector<RequestRecord> Requests() const;

 private:
  FakeVaultApi() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string addr_;
  int port_ = 0;
};

// Wrapping data exactly as Vault's legacy TLS setup wraps it:
// {"ServerCert": <std b64 cert DER>, "ServerKey": <std b64 SEC1 key DER>}.
nlohmann::json WrappedPluginTlsData(const CertKey& cert);

// A compact JWS (ES512 header, random signature) whose payload holds
// `addr` (omitted when nullopt), `jti`, `type:"wrapping"`, iat/nbf/exp.
std::string MakeUnwrapJwt(const std::optional<std::string>& addr, const std::string& jti);

}  // namespace taskcred::test
