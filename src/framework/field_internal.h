// Internal helpers of the field parser, shared by field_parse.cc and
// field_data.cc (and their tests). Not part of the framework API.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace taskcred::framework {

bool IsValidUtf8(std::string_view s);
// `s` with every byte >= 0x80 replaced by '?' if it is not valid UTF-8.
std::string SanitizeUtf8(std::string_view s);
// A short description of a value for error messages: "abc" (quoted, cut at
// 64 bytes, UTF-8 sanitized), 12, true, null, "an object", "a list".
std::string DescribeValue(const nlohmann::json& v);
// True if `s` matches ^\w(([\w-.]+)?\w)?$ (ASCII \w).
bool IsGenericName(std::string_view s);

// mapstructure.WeakDecode into string/int64/bool, with clean errors.
common::Result<std::string> WeakString(const nlohmann::json& raw);
common::Result<int64_t> WeakInt(const nlohmann::json& raw);
common::Result<bool> WeakBool(const nlohmann::json& raw);

}  // namespace taskcred::framework
