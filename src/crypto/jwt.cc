#include "crypto/jwt.h"

#include <set>
#include <vector>

#include "crypto/encoding.h"

namespace taskcred::crypto {
namespace {

using common::Result;
using common::Status;
using nlohmann::json;

// Parses `text` as one JSON object, refusing duplicate member names at any
// depth (RFC 7515 §5.2 lets a parser reject them; we do, so that a token
// means the same thing to every verifier). `what` names the part in errors.
Result<json> ParseStrictObject(std::string_view text, std::string_view what) {
  std::vector<std::set<std::string>> keys;
  bool duplicate = false;
  json::parser_callback_t cb = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: keys.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && parsed.is_string() && !keys.back().insert(parsed.get<std::string>()).second) {
          duplicate = true;
        }
        break;
      default: break;
    }
    return true;
  };
  json value = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Status::InvalidArgument("jwt: " + std::string(what) + " is not valid JSON");
  if (duplicate) return Status::InvalidArgument("jwt: " + std::string(what) + " has duplicate member names");
  if (!value.is_object()) return Status::InvalidArgument("jwt: " + std::string(what) + " must be a JSON object");
  return value;
}

Result<std::string> DumpStrict(const json& value, std::string_view what) {
  try {
    return value.dump();
  } catch (const json::exception&) {
    return Status::InvalidArgument(std::string(what) + " contain invalid UTF-8");
  }
}

}  // namespace

Result<std::string> SignJwt(const SigningKey& key, std::string_view kid, const json& claims, const JwtType& type) {
  if (!claims.is_object()) return Status::InvalidArgument("jwt claims must be a JSON object");
  json header = {
      {"alg", std::string(AlgorithmName(key.algorithm()))}, {"typ", std::string(type.typ)}, {"kid", std::string(kid)}};
  TC_ASSIGN_OR_RETURN(std::string header_text, DumpStrict(header, "jwt header values"));
  TC_ASSIGN_OR_RETURN(std::string claims_text, DumpStrict(claims, "jwt claims"));
  std::string input = Base64UrlEncode(header_text) + "." + Base64UrlEncode(claims_text);
  // Signature lengths: 64 (EdDSA, ES256) or the RSA modulus size (<= 1024).
  if (input.size() + 1 + 1366 > type.max_bytes) {
    return Status::InvalidArgument("jwt would exceed " + std::to_string(type.max_bytes) + " bytes");
  }
  TC_ASSIGN_OR_RETURN(std::string sig, key.Sign(input));
  return input + "." + Base64UrlEncode(sig);
}

Result<DecodedJwt> DecodeJwt(std::string_view token, size_t max_bytes) {
  if (token.size() > max_bytes) {
    return Status::InvalidArgument("jwt: longer than " + std::to_string(max_bytes) + " bytes");
  }
  size_t first = token.find('.');
  size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Status::InvalidArgument("jwt: must have exactly three dot-separated parts");
  }
  std::string_view header_b64 = token.substr(0, first);
  std::string_view claims_b64 = token.substr(first + 1, second - first - 1);
  std::string_view sig_b64 = token.substr(second + 1);
  if (header_b64.empty() || claims_b64.empty() || sig_b64.empty()) {
    return Status::InvalidArgument("jwt: header, payload and signature must be non-empty");
  }
  auto header_text = Base64UrlDecode(header_b64);
  if (!header_text.ok()) return Status::InvalidArgument("jwt: header is not canonical unpadded base64url");
  auto claims_text = Base64UrlDecode(claims_b64);
  if (!claims_text.ok()) return Status::InvalidArgument("jwt: payload is not canonical unpadded base64url");
  auto sig = Base64UrlDecode(sig_b64);
  if (!sig.ok()) return Status::InvalidArgument("jwt: signature is not canonical unpadded base64url");

  DecodedJwt out;
  TC_ASSIGN_OR_RETURN(out.header, ParseStrictObject(*header_text, "header"));
  TC_ASSIGN_OR_RETURN(out.claims, ParseStrictObject(*claims_text, "payload"));
  auto alg = out.header.find("alg");
  if (alg == out.header.end() || !alg->is_string()) {
    return Status::InvalidArgument("jwt: header \"alg\" must be a string");
  }
  if (out.header.contains("crit")) {
    return Status::InvalidArgument("jwt: header \"crit\" is not supported");
  }
  out.signing_input = std::string(token.substr(0, second));
  out.signature = std::move(sig).value();
  return out;
}

Status VerifyJwtSignature(const DecodedJwt& jwt, const json& jwks) {
  auto keys = jwks.is_object() ? jwks.find("keys") : jwks.end();
  if (!jwks.is_object() || keys == jwks.end() || !keys->is_array()) {
    return Status::InvalidArgument("jwks must be an object with a \"keys\" array");
  }
  TC_ASSIGN_OR_RETURN(JwtKeyId id, JwtKeyIdOf(jwt));
  const std::string& kid = id.kid;

  const json* match = nullptr;
  for (const json& k : *keys) {
    if (!k.is_object()) continue;
    auto it = k.find("kid");
    if (it == k.end() || !it->is_string() || it->get_ref<const std::string&>() != kid) continue;
    if (match != nullptr) return Status::PermissionDenied("jwt \"kid\" matches several keys in the jwks");
    match = &k;
  }
  if (match == nullptr) return Status::PermissionDenied("jwt \"kid\" is not in the jwks");

  auto key = PublicKey::FromJwk(*match);
  if (!key.ok()) return Status::PermissionDenied("jwks key for this kid is unusable: " + key.status().message());
  return VerifyJwtWithKey(jwt, id.alg, *key);
}

Result<JwtKeyId> JwtKeyIdOf(const DecodedJwt& jwt) {
  auto alg_it = jwt.header.find("alg");
  if (alg_it == jwt.header.end() || !alg_it->is_string()) {
    return Status::PermissionDenied("jwt header \"alg\" is missing");
  }
  auto alg = ParseAlgorithm(alg_it->get_ref<const std::string&>());
  if (!alg.ok()) return Status::PermissionDenied("jwt header \"alg\" is not EdDSA, ES256 or RS256");
  auto kid_it = jwt.header.find("kid");
  if (kid_it == jwt.header.end() || !kid_it->is_string()) {
    return Status::PermissionDenied("jwt header \"kid\" is missing");
  }
  return JwtKeyId{*alg, kid_it->get<std::string>()};
}

Status VerifyJwtWithKey(const DecodedJwt& jwt, Algorithm alg, const PublicKey& key) {
  if (key.algorithm() != alg) {
    return Status::PermissionDenied("jwt header \"alg\" does not match the key's algorithm");
  }
  return key.Verify(jwt.signing_input, jwt.signature);
}

Result<DecodedJwt> DecodeAndVerifyJwt(std::string_view token, const json& jwks) {
  TC_ASSIGN_OR_RETURN(DecodedJwt jwt, DecodeJwt(token));
  TC_RETURN_IF_ERROR(VerifyJwtSignature(jwt, jwks));
  return jwt;
}

}  // namespace taskcred::crypto
