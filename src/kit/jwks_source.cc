#include "kit/jwks_source.h"

#include <fstream>

namespace taskcred::kit {

using common::Result;
using common::Status;
using nlohmann::json;

namespace {

constexpr size_t kMaxJwksFileBytes = 1024 * 1024;

}  // namespace

Status CheckJwksShape(const json& jwks) {
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array()) {
    return Status::InvalidArgument("JWKS must be a JSON object with a \"keys\" array");
  }
  return Status::Ok();
}

// The engine serves the JWKS raw; a Vault-enveloped {"data":{"keys":[..]}}
// (e.g. saved from `vault read -format=json`) is accepted as well.
Result<json> NormalizeJwks(json doc) {
  if (doc.is_object() && !doc.contains("keys") && doc.contains("data") && doc["data"].is_object()) {
    doc = doc["data"];
  }
  TC_RETURN_IF_ERROR(CheckJwksShape(doc));
  return doc;
}

Result<json> ReadJwksFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read JWKS file " + path);
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxJwksFileBytes) return Status::InvalidArgument("JWKS file " + path + " is larger than 1 MiB");
  }
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Status::InvalidArgument("JWKS file " + path + " is not JSON");
  auto normalized = NormalizeJwks(std::move(doc));
  if (!normalized.ok()) return normalized.status().WithContext("JWKS file " + path);
  return normalized;
}

Result<json> FetchJwksUrl(const std::string& url, const HttpOptions& http) {
  TC_ASSIGN_OR_RETURN(HttpResponse res, HttpCall("GET", url, {{"Accept", "application/json"}}, "", http));
  if (res.status != 200) {
    return Status::Unavailable("JWKS URL answered HTTP " + std::to_string(res.status));
  }
  json doc = json::parse(res.body, nullptr, false);
  if (doc.is_discarded()) return Status::Unavailable("JWKS URL did not answer JSON");
  auto normalized = NormalizeJwks(std::move(doc));
  if (!normalized.ok()) return Status::Unavailable("JWKS URL: " + normalized.status().message());
  return normalized;
}

bool JwksHasKid(const json& jwks, std::string_view kid) {
  for (const auto& k : jwks["keys"]) {
    if (k.is_object() && k.contains("kid") && k["kid"].is_string() && k["kid"].get_ref<const std::string&>() == kid) {
      return true;
    }
  }
  return false;
}

}  // namespace taskcred::kit
