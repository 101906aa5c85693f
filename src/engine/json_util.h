// Small helpers for the JSON edges of the engine (stored entries, responses).
//
// Stored entries are decoded member by member: a missing member keeps the
// caller's default, a member of the wrong type is an Internal error (storage
// was written by us, so a mismatch means corruption, not a user mistake).
// None of these throw.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace taskcred::engine {

common::Status ReadMember(const nlohmann::json& j, std::string_view name, std::string& out);
common::Status ReadMember(const nlohmann::json& j, std::string_view name, int64_t& out);
common::Status ReadMember(const nlohmann::json& j, std::string_view name, bool& out);
common::Status ReadMember(const nlohmann::json& j, std::string_view name, std::vector<std::string>& out);
common::Status ReadMember(const nlohmann::json& j, std::string_view name,
                          std::map<std::string, std::string>& out);

// Parses a stored value; Internal "<what>: stored entry is not valid JSON" on failure.
common::Result<nlohmann::json> ParseStoredJson(std::string_view text, std::string_view what);

// Serializes without throwing (invalid UTF-8 is replaced).
std::string DumpJson(const nlohmann::json& j);

// Every entry non-empty, at most 1024 bytes, no control characters, no
// duplicates. InvalidArgument names `field`.
common::Status ValidateAudienceList(std::string_view field, const std::vector<std::string>& audience);

}  // namespace taskcred::engine
