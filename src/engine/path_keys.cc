// rotate (update); jwks, .well-known/jwks.json, .well-known/openid-configuration
// (read, unauthenticated, raw JSON bodies).
#include <algorithm>
#include <set>
#include <utility>

#include "crypto/encoding.h"
#include "engine/json_util.h"
#include "engine/path_util.h"
#include "engine/services.h"
#include "framework/response.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kRotateSynopsis = "Rotate the JWT signing key now.";
constexpr std::string_view kRotateDescription = R"(
The next key (already published in the JWKS) starts signing, the active key is
retired and a fresh next key is published. Retired public keys stay in the
JWKS for verification_ttl, so every JWT they signed keeps verifying until it
expires. Returns the kids of the new active and next keys.
)";
constexpr std::string_view kJwksSynopsis = "Public signing keys (JWKS, RFC 7517), unauthenticated.";
constexpr std::string_view kJwksDescription = R"(
The public keys that verify this mount's JWTs, as a raw {"keys":[...]} JSON
document (no Vault response envelope) with a Cache-Control max-age. Lists the
active key, the next key (published before it signs) and retired keys until
verification_ttl after their retirement. Each key has kid, alg and use "sig".
)";
constexpr std::string_view kDiscoverySynopsis = "OpenID-style discovery document, unauthenticated.";
constexpr std::string_view kDiscoveryDescription = R"(
Raw JSON: issuer, jwks_uri (issuer + "/.well-known/jwks.json" when issuer is
an http(s) URL; omitted otherwise) and the signing algorithms in use.
)";

// Seconds a JWKS client may cache the document: at most one hour, and below
// the rotation period so a cached copy always holds the next key.
int64_t CacheMaxAge(const ConfigEntry& config) {
  int64_t max_age = 3600;
  if (config.rotation_period > 0) max_age = std::min(max_age, config.rotation_period / 2);
  return std::max<int64_t>(max_age, 0);
}

logical::Response RawJson(const nlohmann::json& body, int64_t max_age) {
  logical::Response resp;
  resp.data = {{"http_status_code", 200},
               {"http_content_type", "application/json"},
               {"http_raw_body", crypto::Base64Encode(DumpJson(body))},
               {"http_raw_cache_control", "max-age=" + std::to_string(max_age)}};
  return resp;
}

class KeyHandlers {
 public:
  explicit KeyHandlers(std::shared_ptr<Services> s) : s_(std::move(s)) {}

  HandlerResult Rotate(Request& req, const FieldData&) {
    TC_ASSIGN_OR_RETURN(ConfigEntry config, s_->config.Get(*req.storage));
    TC_ASSIGN_OR_RETURN(RingChange change, s_->keys.Rotate(*req.storage, config));
    s_->logger.Info("signing key rotated",
                    {{"active_kid", change.active_kid}, {"next_kid", change.next_kid}});
    return framework::RespondWith({{"active_kid", change.active_kid},
                                   {"next_kid", change.next_kid},
                                   {"pruned_kids", change.pruned_kids}});
  }

  HandlerResult Jwks(Request& req, const FieldData&) {
    TC_ASSIGN_OR_RETURN(ConfigEntry config, s_->config.Get(*req.storage));
    TC_ASSIGN_OR_RETURN(nlohmann::json jwks, s_->keys.Jwks(*req.storage, config));
    return std::optional<logical::Response>(RawJson(jwks, CacheMaxAge(config)));
  }

  HandlerResult Discovery(Request& req, const FieldData&) {
    TC_ASSIGN_OR_RETURN(ConfigEntry config, s_->config.Get(*req.storage));
    TC_ASSIGN_OR_RETURN(nlohmann::json jwks, s_->keys.Jwks(*req.storage, config));
    std::set<std::string> algs;
    for (const auto& k : jwks["keys"]) {
      if (k.contains("alg") && k["alg"].is_string()) algs.insert(k["alg"].get<std::string>());
    }
    std::vector<std::string> alg_list(algs.begin(), algs.end());
    nlohmann::json doc = {{"issuer", config.issuer},
                          {"id_token_signing_alg_values_supported", alg_list},
                          {"token_signing_alg_values_supported", alg_list},
                          {"subject_types_supported", {"public"}},
                          {"response_types_supported", {"id_token"}}};
    std::string_view iss = config.issuer;
    if (iss.rfind("https://", 0) == 0 || iss.rfind("http://", 0) == 0) {
      while (!iss.empty() && iss.back() == '/') iss.remove_suffix(1);
      doc["jwks_uri"] = std::string(iss) + "/.well-known/jwks.json";
    }
    return std::optional<logical::Response>(RawJson(doc, CacheMaxAge(config)));
  }

 private:
  std::shared_ptr<Services> s_;
};

}  // namespace

std::vector<framework::Path> KeyPaths(std::shared_ptr<Services> s) {
  auto h = std::make_shared<KeyHandlers>(std::move(s));
  auto jwks = Bind(h, &KeyHandlers::Jwks);
  return {
      {.pattern = "rotate",
       .operations = {{Operation::kUpdate, {Bind(h, &KeyHandlers::Rotate), "Rotate the signing key."}}},
       .help = {kRotateSynopsis, kRotateDescription}},
      {.pattern = "jwks",
       .operations = {{Operation::kRead, {jwks, "Read the public signing keys (JWKS)."}}},
       .help = {kJwksSynopsis, kJwksDescription}},
      {.pattern = R"(\.well-known/jwks\.json)",
       .operations = {{Operation::kRead, {jwks, "Read the public signing keys (JWKS)."}}},
       .help = {kJwksSynopsis, kJwksDescription}},
      {.pattern = R"(\.well-known/openid-configuration)",
       .operations = {{Operation::kRead, {Bind(h, &KeyHandlers::Discovery), "Read the discovery document."}}},
       .help = {kDiscoverySynopsis, kDiscoveryDescription}},
  };
}

}  // namespace taskcred::engine
