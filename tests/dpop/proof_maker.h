// Minting DPoP proofs in tests (RFC 9449): what a credential's holder does.
// Every part can be bent to build the proofs a verifier must refuse.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/signing_key.h"

namespace taskcred::test {

struct ProofParts {
  nlohmann::json header;
  nlohmann::json claims;
};

// The proof a correct client sends for `method url` with `credential`.
inline ProofParts GoodProof(const crypto::SigningKey& key, const std::string& method, const std::string& url,
                            const std::string& credential, int64_t iat, const std::string& jti) {
  return {{{"typ", "dpop+jwt"},
           {"alg", std::string(crypto::AlgorithmName(key.algorithm()))},
           {"jwk", key.public_key().Jwk("x")}},
          {{"htm", method},
           {"htu", url},
           {"iat", iat},
           {"jti", jti},
           {"ath", crypto::Base64UrlEncode(crypto::Sha256(credential))}}};
}

// Compact JWS of `parts` signed by `key` (whatever the header says).
inline std::string SignProof(const crypto::SigningKey& key, ProofParts parts) {
  if (auto jwk = parts.header.find("jwk"); jwk != parts.header.end() && jwk->is_object()) jwk->erase("kid");
  const std::string input =
      crypto::Base64UrlEncode(parts.header.dump()) + "." + crypto::Base64UrlEncode(parts.claims.dump());
  auto sig = key.Sign(input);
  return input + "." + crypto::Base64UrlEncode(sig.ok() ? *sig : std::string("x"));
}

// The cnf.jkt of `key`.
inline std::string Jkt(const crypto::SigningKey& key) { return key.public_key().Thumbprint(); }

}  // namespace taskcred::test
