#include "kit/holder_check.h"

namespace taskcred::kit {

HolderCheck::Finding HolderCheck::Check(const nlohmann::json& claims, std::string_view token,
                                        std::string_view proof, std::string_view method, std::string_view url,
                                        int64_t now) {
  auto cnf = claims.find("cnf");
  if (cnf == claims.end()) return {};
  if (!cnf->is_object() || !cnf->contains("jkt") || !(*cnf)["jkt"].is_string() ||
      !dpop::IsValidThumbprint((*cnf)["jkt"].get_ref<const std::string&>())) {
    return {"malformed", "cnf must be {\"jkt\": <a SHA-256 JWK thumbprint>}"};
  }
  if (proof.empty()) return {"dpop_required", "the credential is bound to a key (cnf.jkt): a DPoP proof is required"};
  const std::string& jkt = (*cnf)["jkt"].get_ref<const std::string&>();
  auto checked = dpop::CheckProof(
      proof, {.method = method, .url = url, .access_token = token, .jkt = jkt, .now = now, .iat_window = iat_window_});
  if (!checked.ok()) return {"dpop_invalid", checked.status().message()};
  if (!replays_.Accept(jkt, checked->jti, checked->iat + iat_window_ + 1, now)) {
    return {"dpop_invalid", "dpop proof: jti was already used (a replay)"};
  }
  return {};
}

}  // namespace taskcred::kit
