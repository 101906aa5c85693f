// DPoP (RFC 9449): checking a proof that the sender of a request holds the
// key a credential is bound to (its cnf.jkt), and a cache that accepts each
// proof's jti once.
//
// A proof is a JWT with header typ "dpop+jwt", an asymmetric alg (EdDSA,
// ES256, RS256: never "none" or HS256) and the public "jwk" it is signed
// with; claims htm (the request method), htu (the request URL without query
// and fragment), iat (within a window of now), jti (unique), and ath (the
// base64url SHA-256 of the credential). Shared by the engine (introspect)
// and the verification kit. Pure: no I/O, no clock of its own.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace taskcred::dpop {

// Largest proof accepted.
inline constexpr size_t kMaxProofBytes = 8 * 1024;
// Default tolerance of a proof's iat against now, in seconds, each way.
inline constexpr int64_t kDefaultIatWindow = 60;
// Longest jti accepted.
inline constexpr size_t kMaxJtiBytes = 256;

struct Expectation {
  std::string_view method;        // of the request the proof must be for, e.g. "GET"
  std::string_view url;           // of that request (its query and fragment are ignored)
  std::string_view access_token;  // the credential the proof is presented with (ath)
  std::string_view jkt;           // the credential's cnf.jkt
  int64_t now = 0;                // unix seconds
  int64_t iat_window = kDefaultIatWindow;
};

struct Proof {
  std::string jti;
  int64_t iat = 0;
};

// Checks `proof` against `expect`. kPermissionDenied naming the rule for
// every refusal (the proof itself never appears in a message).
common::Result<Proof> CheckProof(std::string_view proof, const Expectation& expect);

// A JWK SHA-256 thumbprint as cnf.jkt carries it: 43 characters of unpadded
// base64url (32 bytes).
bool IsValidThumbprint(std::string_view jkt);

// The form of a URL htu is compared in: scheme and host lowercased, query
// and fragment removed. Empty when `url` is not an absolute http(s) URL.
std::string NormalizeHtu(std::string_view url);

// Remembers the (jkt, jti) of accepted proofs until they can no longer pass
// the iat window, so each proof is accepted once. Bounded: when full of
// live entries it refuses (fails closed) rather than forget one. Safe for
// concurrent use.
class ReplayCache {
 public:
  explicit ReplayCache(size_t capacity = 100000) : capacity_(capacity) {}
  // True the first time the pair is seen before `expires_at`; false for a
  // replay, or when the cache is full of entries that have not expired.
  bool Accept(std::string_view jkt, std::string_view jti, int64_t expires_at, int64_t now);
  size_t size() const;

 private:
  void DropExpired(int64_t now);  // REQUIRES: mu_ held
  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<std::string, int64_t> seen_;             // jkt + " " + jti -> expires_at
  std::multimap<int64_t, std::string> by_expiry_;  // expires_at -> key
};

}  // namespace taskcred::dpop
