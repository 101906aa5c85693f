// Shared fixtures for the crypto tests: RFC test-vector keys.
#pragma once

#include <ostream>
#include <string>

#include "crypto/encoding.h"
#include "crypto/signing_key.h"

namespace taskcred::test {

// RFC 8037 Appendix A.1 Ed25519 key.
inline constexpr const char* kRfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
inline constexpr const char* kRfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

// Wraps a raw 32-byte Ed25519 seed in PKCS#8 PEM (RFC 8410 §7: the DER is a
// fixed 16-byte prefix followed by the seed).
inline std::string Ed25519SeedToPem(const std::string& seed) {
  static const std::string kPrefix("\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20", 16);
  std::string b64 = crypto::Base64Encode(kPrefix + seed);
  return "-----BEGIN PRIVATE KEY-----\n" + b64 + "\n-----END PRIVATE KEY-----\n";
}

}  // namespace taskcred::test

namespace taskcred::crypto {
// Readable parameter names in gtest/ctest output.
inline void PrintTo(Algorithm alg, std::ostream* os) { *os << AlgorithmName(alg); }
}  // namespace taskcred::crypto
