// Test certificates, generated with OpenSSL exactly the way the hosts make
// theirs (go-plugin mtls.go; Vault sdk/helper/pluginutil/tls.go), plus a
// small CA for the fake Vault API's HTTPS listener.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace taskcred::test {

struct CertKey {
  std::string cert_der;
  std::string cert_pem;
  std::string key_pem;       // PKCS#8 PEM
  std::string key_sec1_der;  // "EC PRIVATE KEY" DER (what Vault wraps)
  std::string common_name;
};

// go-plugin AutoMTLS profile: ECDSA P-521, CN=localhost O=HashiCorp,
// SAN DNS:localhost, EKU clientAuth+serverAuth, KeyUsage digitalSignature|
// keyEncipherment|keyAgreement|keyCertSign, basicConstraints CA:TRUE,
// validity now-30s .. +262980h, random positive 128-bit serial, ECDSA-SHA512.
common::Result<CertKey> GenerateAutoMtlsCert();

// Vault legacy unwrap-token TLS profile: ECDSA P-521, CN = SAN DNS = a random
// UUID, EKU clientAuth+serverAuth, no keyCertSign, no basicConstraints.
common::Result<CertKey> GenerateLegacyTlsCert();

// A self-signed CA (P-256) and a server cert it signs for 127.0.0.1/localhost.
common::Result<CertKey> GenerateTestCa(std::string_view cn);
common::Result<CertKey> IssueServerCert(const CertKey& ca, std::string_view cn);

// What a test wants to know about a certificate (e.g. the plugin's).
struct CertInfo {
  std::string key_type;  // "EC" | "RSA" | "ED25519" | ...
  std::string curve;     // OpenSSL short name, e.g. "secp521r1"
  std::string subject_cn;
  std::vector<std::string> dns_sans;
  bool eku_server_auth = false;
  bool eku_client_auth = false;
  bool is_ca = false;           // basicConstraints CA:TRUE
  bool key_cert_sign = false;
  long seconds_valid_from_now = 0;  // notAfter - now
  long seconds_since_not_before = 0;
  bool serial_positive = false;
};
common::Result<CertInfo> InspectCert(std::string_view der);

std::string DerCertToPem(std::string_view der);
// Random RFC 4122 v4 UUID string.
std::string RandomUuid();

}  // namespace taskcred::test
