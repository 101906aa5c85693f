// Transport security material for the three host modes (AutoMTLS, legacy
// unwrap-token TLS, plaintext) and the small pure pieces of the legacy flow.
//
// Everything here is OpenSSL/Beast-backed and thread-safe; the pure parsers
// never log their inputs (tokens and keys are secrets).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "runtime/handshake.h"

namespace taskcred::runtime {

enum class TlsMode { kPlaintext, kAutoMtls, kLegacy };
std::string_view TlsModeName(TlsMode mode);

// The plugin's TLS identity and the single certificate it trusts.
struct TlsMaterial {
  std::string cert_pem;
  std::string key_pem;
  std::string cert_der;       // the plugin's leaf, DER
  std::string trust_pem;      // the host's cert (AutoMTLS) / the unwrapped cert (legacy)
  std::string broker_server_name;  // "localhost" (AutoMTLS) / the cert's CN (legacy)
};

enum class KeyCurve { kP256, kP521 };

// A self-signed AutoMTLS certificate: CN=localhost, SAN DNS:localhost, EKU
// serverAuth+clientAuth, keyUsage incl. keyCertSign, CA:TRUE (critical),
// positive 128-bit serial, notBefore now-30s, notAfter now+262980h.
struct GeneratedCert {
  std::string cert_pem, key_pem, cert_der;
};
common::Result<GeneratedCert> GenerateSelfSignedCert(KeyCurve curve = KeyCurve::kP256);

// Decides the mode like the Go SDK: metadata mode or AutoMTLS env true →
// AutoMTLS when PLUGIN_CLIENT_CERT is non-empty, else plaintext; otherwise legacy.
TlsMode ChooseTlsMode(const EnvGetter& env);

// Returns the `addr` claim of an unwrap JWT (payload base64url-decoded, the
// signature is not checked: the host verifies the token on unwrap).
common::Result<std::string> UnwrapTokenAddr(std::string_view jwt);

// Flags the Go SDK accepts on a plugin's command line (Go flag syntax: -x=v,
// -x v, --x; bools as -x or -x=bool). Parsing stops at "--" or the first
// non-flag argument; unknown flags are an error.
struct ApiClientFlags {
  std::string ca_cert, ca_path, client_cert, client_key, tls_server_name;
  bool tls_skip_verify = false;
};
common::Result<ApiClientFlags> ParseApiClientFlags(const std::vector<std::string>& args);

// TLS settings for the unwrap call: environment (BAO_* before VAULT_*, *_BYTES
// variants) overridden by flags.
struct ApiTlsConfig {
  std::string ca_cert_file, ca_cert_pem, ca_path;
  std::string client_cert_file, client_cert_pem, client_key_file, client_key_pem;
  bool skip_verify = false;
  std::string server_name;
  std::string namespace_header;
};
common::Result<ApiTlsConfig> ApiTlsConfigFrom(const EnvGetter& env, const ApiClientFlags& flags);

// Parses the unwrap JSON response: data.ServerCert / data.ServerKey (padded
// std base64 of DER cert / SEC1 EC key). Returns PEM material whose trust is
// the cert itself and whose broker server name is the cert's CN.
common::Result<TlsMaterial> ParseUnwrapResponse(std::string_view body);

// Parsed http(s)://host[:port][/base] address.
struct ApiAddr {
  bool https = false;
  std::string host;
  std::string port;
  std::string base_path;  // without trailing '/'
};
common::Result<ApiAddr> ParseApiAddr(std::string_view addr);

// PUT {addr}/v1/sys/wrapping/unwrap with X-Vault-Token; returns the body of a
// 200 answer. The whole call (resolve, connect, TLS handshake, write, read) is
// bounded by `timeout`. Errors: unreachable API or no answer within `timeout`
// (kUnavailable, naming the address and the step that timed out), non-200
// (kPermissionDenied with the status).
common::Result<std::string> CallUnwrap(const ApiAddr& addr, const ApiTlsConfig& tls, std::string_view token,
                                       std::chrono::seconds timeout);

// Bound of the whole unwrap call: 30 s, or TASKCRED_UNWRAP_TIMEOUT (whole
// seconds, 1-3600; meant for tests, not documented to operators).
inline constexpr std::chrono::seconds kDefaultUnwrapTimeout{30};
inline constexpr std::string_view kUnwrapTimeoutEnv = "TASKCRED_UNWRAP_TIMEOUT";
common::Result<std::chrono::seconds> UnwrapTimeout(const EnvGetter& env);

// The whole legacy flow: token from BAO_/VAULT_UNWRAP_TOKEN, flags from `args`,
// the call bounded by UnwrapTimeout(env).
common::Result<TlsMaterial> LegacyTlsMaterial(const EnvGetter& env, const std::vector<std::string>& args);

// Subject CN of a PEM certificate ("" if none).
common::Result<std::string> CertCommonName(std::string_view cert_pem);

}  // namespace taskcred::runtime
