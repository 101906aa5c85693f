#include "kit/tools/authz_check.h"

#include "kit/tools/tool_util.h"

namespace taskcred::kit::tools {

CheckAnswer DecideCheck(Verifier& verifier, const CheckRequest& r, const std::string& external_url) {
  CheckAnswer a;
  // Authorization: Bearer <credential>, or DPoP <credential> with the proof
  // in the DPoP header (RFC 9449); the request the proof is for is
  // X-Original-Method on external_url + X-Original-URI.
  const auto [scheme, token] = ParseAuthorization(r.authorization);
  if (!r.duplicate.empty()) {
    // Two values would be two answers to one question; refuse to pick.
    a.status = 400;
    a.reason = "duplicate_header:" + r.duplicate;
    return a;
  }
  if (token.empty()) {
    a.status = 401;
    a.www_authenticate = R"(Bearer realm="taskcred")";
    a.reason = "missing_credential";
    return a;
  }
  if (r.resource.empty() || r.action.empty()) {
    // Refuse without looking at the credential (and without spending a use).
    a.status = 403;
    a.reason = "missing_resource_or_action";
    return a;
  }
  const std::string url = external_url.empty() ? "" : external_url + r.uri;
  a.verdict = verifier.Check(token, r.resource, r.action, {r.dpop, r.method, url});
  a.reason = a.verdict.reason;
  if (a.verdict.ok) return a;
  if (a.reason == kReasonNotAllowed) {
    a.status = 403;
  } else if (IsOperationalReason(a.reason)) {
    a.status = 503;
  } else if (a.reason == kReasonDpopRequired) {
    a.status = 401;
    a.www_authenticate = R"(DPoP algs="EdDSA ES256 RS256")";
  } else if (a.reason == kReasonDpopInvalid) {
    a.status = 401;
    a.www_authenticate = R"(DPoP algs="EdDSA ES256 RS256", error="invalid_dpop_proof", error_description=")" +
                         a.reason + "\"";
  } else {
    a.status = 401;
    a.www_authenticate = std::string(scheme == "DPoP" ? "DPoP" : "Bearer") +
                         R"( realm="taskcred", error="invalid_token", error_description=")" + a.reason + "\"";
  }
  return a;
}

}  // namespace taskcred::kit::tools
