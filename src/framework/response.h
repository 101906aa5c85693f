// Response builders, as Vault's logical.ListResponse and friends.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "logical/backend.h"
#include "logical/request.h"

namespace taskcred::framework {

// Go's `return nil, nil`: 404 on read, 204 on write.
inline logical::HandlerResult NoResponse() { return std::optional<logical::Response>(); }

// A response whose data is `data` (an object).
inline logical::HandlerResult RespondWith(nlohmann::json data) {
  logical::Response resp;
  resp.data = std::move(data);
  return std::optional<logical::Response>(std::move(resp));
}

// {"keys": [...]} (Go's logical.ListResponse: no keys -> empty data, which Vault answers with 404).
logical::Response ListResponse(const std::vector<std::string>& keys);
// {"keys": [...], "key_info": {key: info}} (Go's logical.ListResponseWithInfo).
logical::Response ListResponseWithInfo(const std::vector<std::string>& keys, const nlohmann::json& key_info);
// {"help": text, "see_also": [], "openapi": doc} (Go's logical.HelpResponse).
logical::Response HelpResponse(const std::string& text, const nlohmann::json& openapi);

}  // namespace taskcred::framework
