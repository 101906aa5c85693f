// Asymmetric JWS keys: EdDSA (Ed25519), ES256 (P-256 + SHA-256) and RS256
// (RSA >= 2048 bits, PKCS#1 v1.5 + SHA-256).
//
// SigningKey holds a private key (generated here or loaded from the PKCS#8 PEM
// that PrivatePem() wrote); PublicKey holds only the public half and is what a
// verifier builds from a JWK. Both are cheap to copy (they share one immutable
// OpenSSL key) and safe to use from several threads at once.
//
// Signatures are in JWS form (RFC 7518 §3): ES256 is the raw 64-byte R||S,
// not DER. Private key material never appears in an error message.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace taskcred::crypto {

enum class Algorithm { kEdDSA, kES256, kRS256 };

// "EdDSA", "ES256", "RS256".
std::string_view AlgorithmName(Algorithm alg);
// Exact (case-sensitive) JWS names above; anything else ("none", "HS256",
// "es256", ...) is kInvalidArgument.
common::Result<Algorithm> ParseAlgorithm(std::string_view name);

namespace internal {
struct KeyHandle;  // owns the EVP_PKEY; defined in signing_key.cc
}

class PublicKey {
 public:
  // Builds a verification key from a public JWK (RFC 7517/7518/8037):
  //   {"kty":"OKP","crv":"Ed25519","x"}     -> EdDSA
  //   {"kty":"EC","crv":"P-256","x","y"}     -> ES256 (x, y exactly 32 bytes, point on the curve)
  //   {"kty":"RSA","n","e"}                  -> RS256 (n >= 2048 bits, no leading zero octets)
  // If the JWK has "alg" it must be the algorithm implied by kty/crv; "use",
  // when present, must be "sig"; "key_ops", when present, must contain
  // "verify". A JWK carrying private members ("d", "p", ...) is refused.
  // Errors are kInvalidArgument naming the member and rule.
  static common::Result<PublicKey> FromJwk(const nlohmann::json& jwk);

  Algorithm algorithm() const;

  // The public JWK: kty, crv/x/y or n/e, plus "kid", "alg" and "use":"sig".
  nlohmann::json Jwk(std::string_view kid) const;
  // RFC 7638 JWK thumbprint: base64url(SHA-256(canonical required members)).
  std::string Thumbprint() const;

  // OK iff `signature` is a valid JWS signature of `data` under this key;
  // kPermissionDenied otherwise (including a wrong-length signature).
  common::Status Verify(std::string_view data, std::string_view signature) const;

 private:
  friend class SigningKey;
  PublicKey(Algorithm alg, std::shared_ptr<const internal::KeyHandle> key) : alg_(alg), key_(std::move(key)) {}

  Algorithm alg_;
  std::shared_ptr<const internal::KeyHandle> key_;
};

class SigningKey {
 public:
  // A fresh key: Ed25519, P-256 or RSA-2048. kInternal if OpenSSL fails.
  static common::Result<SigningKey> Generate(Algorithm alg);
  // Loads a private key from PEM (PKCS#8 "PRIVATE KEY", as PrivatePem writes;
  // traditional RSA/EC PEM is accepted too). The key type must match `alg`
  // (Ed25519 / P-256 / RSA >= 2048 bits); encrypted PEM is refused.
  static common::Result<SigningKey> FromPrivatePem(Algorithm alg, std::string_view pem);

  Algorithm algorithm() const { return alg_; }

  // PKCS#8 PEM of the private key. Secret: store it only in (seal-wrapped)
  // Vault storage, never log it.
  std::string PrivatePem() const;

  // The public half, for verification.
  PublicKey public_key() const { return PublicKey(alg_, key_); }
  // Same as public_key().Jwk(kid) / .Thumbprint().
  nlohmann::json PublicJwk(std::string_view kid) const { return public_key().Jwk(kid); }
  std::string Thumbprint() const { return public_key().Thumbprint(); }

  // JWS signature bytes of `data` (Ed25519: 64 bytes; ES256: 64-byte R||S;
  // RS256: modulus-length bytes). kInternal only if OpenSSL fails.
  common::Result<std::string> Sign(std::string_view data) const;

 private:
  SigningKey(Algorithm alg, std::shared_ptr<const internal::KeyHandle> key) : alg_(alg), key_(std::move(key)) {}

  Algorithm alg_;
  std::shared_ptr<const internal::KeyHandle> key_;
};

}  // namespace taskcred::crypto
