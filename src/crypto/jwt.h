// Compact JWS / JWT (RFC 7515, 7519) for the three algorithms of
// signing_key.h. Signing, strict structural decoding and signature
// verification against a JWKS. Claim checks (exp, nbf, iss, aud) are the
// caller's: this layer knows nothing of time or issuers.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "crypto/signing_key.h"

namespace taskcred::crypto {

// Largest token DecodeJwt accepts and SignJwt produces.
inline constexpr size_t kMaxJwtBytes = 16 * 1024;

// What distinguishes one kind of JWT from another: the header "typ" (RFC
// 8725 explicit typing, e.g. "statuslist+jwt") and the size bound.
struct JwtType {
  std::string_view typ = "JWT";
  size_t max_bytes = kMaxJwtBytes;
};

// Compact JWS of `claims` (a JSON object) with header
// {"alg":<key alg>,"typ":type.typ,"kid":kid}. kInvalidArgument if claims is
// not an object, holds invalid UTF-8, or the token would exceed
// type.max_bytes.
common::Result<std::string> SignJwt(const SigningKey& key, std::string_view kid, const nlohmann::json& claims,
                                    const JwtType& type = {});

struct DecodedJwt {
  nlohmann::json header;      // JSON object, has a string "alg"
  nlohmann::json claims;      // JSON object
  std::string signing_input;  // "<b64 header>.<b64 payload>", the bytes the signature covers
  std::string signature;      // raw signature bytes, non-empty
};

// Structure only, no signature check. Strict: at most max_bytes, exactly
// three non-empty dot-separated parts, each canonical base64url without
// padding, header and claims JSON objects without duplicate member names,
// header "alg" a string, no "crit" header. kInvalidArgument naming the rule
// otherwise; the token itself never appears in the message.
common::Result<DecodedJwt> DecodeJwt(std::string_view token, size_t max_bytes = kMaxJwtBytes);

// Verifies jwt's signature with the key of `jwks` ({"keys":[...]}) whose
// "kid" equals header "kid". Requires header "alg" to be one of EdDSA, ES256,
// RS256 and to be exactly the algorithm of that JWK (its "alg" member and its
// kty/crv): "none", HS256 and any algorithm switch are refused.
// kPermissionDenied for every refusal (missing/unknown/ambiguous kid,
// algorithm mismatch, unusable key, bad signature); kInvalidArgument if jwks
// is not {"keys":[...]}.
common::Status VerifyJwtSignature(const DecodedJwt& jwt, const nlohmann::json& jwks);

// The two halves of VerifyJwtSignature, for callers that hold their keys
// parsed already (the engine's key ring). JwtKeyIdOf: header "alg" (one of
// the three) and "kid", kPermissionDenied when missing or unsupported.
// VerifyJwtWithKey: the signature with `key`, found for that kid; the header
// alg must be exactly the key's algorithm (kPermissionDenied otherwise).
struct JwtKeyId {
  Algorithm alg;
  std::string kid;
};
common::Result<JwtKeyId> JwtKeyIdOf(const DecodedJwt& jwt);
common::Status VerifyJwtWithKey(const DecodedJwt& jwt, Algorithm alg, const PublicKey& key);

// DecodeJwt + VerifyJwtSignature. Malformed tokens are kInvalidArgument,
// signature refusals kPermissionDenied.
common::Result<DecodedJwt> DecodeAndVerifyJwt(std::string_view token, const nlohmann::json& jwks);

}  // namespace taskcred::crypto
