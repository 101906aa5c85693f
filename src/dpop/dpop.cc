#include "dpop/dpop.h"

#include <algorithm>
#include <cctype>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/signing_key.h"

namespace taskcred::dpop {

using common::Result;
using common::Status;
using nlohmann::json;

namespace {

Status Refuse(const std::string& why) { return Status::PermissionDenied("dpop proof: " + why); }

bool TimingSafeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

bool IsValidThumbprint(std::string_view jkt) {
  if (jkt.size() != 43) return false;
  auto bytes = crypto::Base64UrlDecode(jkt);
  return bytes.ok() && bytes->size() == 32;
}

std::string NormalizeHtu(std::string_view url) {
  url = url.substr(0, std::min(url.find('#'), url.size()));
  url = url.substr(0, std::min(url.find('?'), url.size()));
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  std::string scheme(url.substr(0, scheme_end));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "http" && scheme != "https") return "";
  std::string_view rest = url.substr(scheme_end + 3);
  const size_t path_start = std::min(rest.find('/'), rest.size());
  std::string host(rest.substr(0, path_start));
  if (host.empty() || host.find('@') != std::string::npos) return "";
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string path(rest.substr(path_start));
  if (path.empty()) path = "/";
  return scheme + "://" + host + path;
}

Result<Proof> CheckProof(std::string_view proof, const Expectation& e) {
  if (proof.empty()) return Refuse("missing");
  auto jwt = crypto::DecodeJwt(proof, kMaxProofBytes);
  if (!jwt.ok()) return Refuse("not a well-formed JWT (" + jwt.status().message() + ")");
  const json& h = jwt->header;
  if (!h.contains("typ") || h["typ"] != "dpop+jwt") return Refuse("header typ must be dpop+jwt");
  auto alg = crypto::ParseAlgorithm(h["alg"].get<std::string>());
  if (!alg.ok()) return Refuse("alg must be EdDSA, ES256 or RS256");
  if (!h.contains("jwk")) return Refuse("header jwk (the public key) is required");
  auto key = crypto::PublicKey::FromJwk(h["jwk"]);
  if (!key.ok()) return Refuse("header " + key.status().message());
  if (key->algorithm() != *alg) return Refuse("alg does not match the jwk's key type");
  if (Status sig = crypto::VerifyJwtWithKey(*jwt, *alg, *key); !sig.ok()) return Refuse("signature does not verify");
  if (!TimingSafeEqual(key->Thumbprint(), e.jkt)) return Refuse("key is not the one the credential is bound to");

  const json& c = jwt->claims;
  if (!c.contains("htm") || !c["htm"].is_string() || c["htm"] != e.method) {
    return Refuse("htm does not match the request method");
  }
  if (!c.contains("htu") || !c["htu"].is_string()) return Refuse("htu is required");
  const std::string htu = NormalizeHtu(c["htu"].get<std::string>());
  if (htu.empty() || htu != NormalizeHtu(e.url)) return Refuse("htu does not match the request URL");
  if (!c.contains("iat") || !c["iat"].is_number_integer()) return Refuse("iat must be an integer");
  const int64_t iat = c["iat"].get<int64_t>();
  if (iat > e.now + e.iat_window || iat < e.now - e.iat_window) {
    return Refuse("iat is outside " + std::to_string(e.iat_window) + " s of now");
  }
  if (!c.contains("jti") || !c["jti"].is_string() || c["jti"].get_ref<const std::string&>().empty() ||
      c["jti"].get_ref<const std::string&>().size() > kMaxJtiBytes) {
    return Refuse("jti must be a string of 1 to " + std::to_string(kMaxJtiBytes) + " bytes");
  }
  if (!c.contains("ath") || !c["ath"].is_string()) return Refuse("ath (the credential's hash) is required");
  if (!TimingSafeEqual(c["ath"].get<std::string>(), crypto::Base64UrlEncode(crypto::Sha256(e.access_token)))) {
    return Refuse("ath does not match the credential");
  }
  return Proof{c["jti"].get<std::string>(), iat};
}

void ReplayCache::DropExpired(int64_t now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    seen_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
}

bool ReplayCache::Accept(std::string_view jkt, std::string_view jti, int64_t expires_at, int64_t now) {
  std::string key;
  key.reserve(jkt.size() + 1 + jti.size());
  key.append(jkt).append(" ").append(jti);
  std::lock_guard lock(mu_);
  DropExpired(now);
  if (seen_.contains(key)) return false;
  if (seen_.size() >= capacity_) return false;
  seen_.emplace(key, expires_at);
  by_expiry_.emplace(expires_at, std::move(key));
  return true;
}

size_t ReplayCache::size() const {
  std::lock_guard lock(mu_);
  return seen_.size();
}

}  // namespace taskcred::dpop
