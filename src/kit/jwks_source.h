// Where the kit's keys come from: a JWKS read from a file or fetched from a
// URL, normalised to {"keys":[...]} (a Vault-enveloped {"data":{"keys":..}}
// is accepted too). Internal to the kit (the Verifier's JWKS cache uses it).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "kit/http_client.h"

namespace taskcred::kit {

// kInvalidArgument unless `jwks` is an object with a "keys" array.
common::Status CheckJwksShape(const nlohmann::json& jwks);
// `doc`, or its "data" member when it is a Vault envelope; then CheckJwksShape.
common::Result<nlohmann::json> NormalizeJwks(nlohmann::json doc);
// A JWKS file of at most 1 MiB; kInvalidArgument naming the file otherwise.
common::Result<nlohmann::json> ReadJwksFile(const std::string& path);
// GET `url`; kUnavailable for transport errors, non-200 answers and bad JSON.
common::Result<nlohmann::json> FetchJwksUrl(const std::string& url, const HttpOptions& http);
// True when a key of `jwks` (shape-checked) has this "kid".
bool JwksHasKid(const nlohmann::json& jwks, std::string_view kid);

}  // namespace taskcred::kit
