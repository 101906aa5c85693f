// Parsing of raw request values into field types, with Vault's weak-typing
// rules (mapstructure.WeakDecode, parseutil.ParseDurationSecond,
// parseutil.ParseCommaStringSlice) and clean errors for hostile input.
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "framework/field.h"
#include "framework/field_internal.h"

namespace taskcred::framework {
namespace {

using common::Result;
using common::Status;
using nlohmann::json;

constexpr int64_t kMaxDurationSeconds = std::numeric_limits<int64_t>::max() / 1000000000;

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// strconv.ParseInt(s, 10, 64) with an optional sign.
std::optional<int64_t> ParseDecimal(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (neg) {
    if (v > kMax + 1) return std::nullopt;
    return v == kMax + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  }
  if (v > kMax) return std::nullopt;
  return static_cast<int64_t>(v);
}

// strconv.ParseInt(s, 0, 64): sign, then 0x/0o/0b prefixes or a leading 0 for octal.
std::optional<int64_t> ParseIntBase0(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (neg) {
    if (v > kMax + 1) return std::nullopt;
    return v == kMax + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  }
  if (v > kMax) return std::nullopt;
  return static_cast<int64_t>(v);
}

Status TypeError(std::string_view expected, const json& got) {
  return Status::InvalidArgument("expected " + std::string(expected) + ", got " + DescribeValue(got));
}

// An integral double within int64 range, else nullopt.
std::optional<int64_t> IntegralDouble(double d) {
  if (!std::isfinite(d) || std::trunc(d) != d) return std::nullopt;
  if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return std::nullopt;
  return static_cast<int64_t>(d);
}

Result<std::vector<std::string>> WeakStringSlice(const json& raw, std::string_view expected) {
  std::vector<std::string> out;
  if (raw.is_null()) return out;
  if (raw.is_object()) {
    if (raw.empty()) return out;
    return TypeError(expected, raw);
  }
  if (!raw.is_array()) {
    TC_ASSIGN_OR_RETURN(std::string s, WeakString(raw));
    out.push_back(std::move(s));
    return out;
  }
  for (const json& e : raw) {
    if (e.is_array() || e.is_object()) return TypeError(expected, raw);
    TC_ASSIGN_OR_RETURN(std::string s, WeakString(e));
    out.push_back(std::move(s));
  }
  return out;
}

std::string TrimSpace(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

json TrimmedArray(std::vector<std::string> v) {
  json out = json::array();
  for (auto& s : v) out.push_back(TrimSpace(s));
  return out;
}

std::vector<std::string> SplitComma(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(',', start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

Result<json> ParseKVPairs(const json& raw) {
  constexpr std::string_view kExpected = "key/value pairs (an object of strings or a list of \"key=value\")";
  json out = json::object();
  if (raw.is_null()) return out;
  if (raw.is_object()) {
    for (const auto& [k, v] : raw.items()) {
      if (v.is_array() || v.is_object()) return TypeError(kExpected, raw);
      if (!IsValidUtf8(k)) return Status::InvalidArgument("keys must be valid UTF-8");
      TC_ASSIGN_OR_RETURN(std::string s, WeakString(v));
      out[k] = std::move(s);
    }
    return out;
  }
  TC_ASSIGN_OR_RETURN(std::vector<std::string> list, WeakStringSlice(raw, kExpected));
  for (const std::string& pair : list) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("invalid key pair " + DescribeValue(json(pair)) +
                                     " (expected \"key=value\")");
    }
    out[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return out;
}

std::optional<std::string> Base64StdDecode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    int pad = 0;
    std::array<int, 4> v{};
    for (size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      if (c == '=') {
        if (i + 4 != in.size() || j < 2) return std::nullopt;
        v[j] = 0;
        ++pad;
      } else {
        if (pad > 0) return std::nullopt;
        v[j] = val(c);
        if (v[j] < 0) return std::nullopt;
      }
    }
    uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                 (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<char>((n >> 16) & 0xFF));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
  }
  return out;
}

// textproto.CanonicalMIMEHeaderKey for token keys; other keys are kept as is.
std::string CanonicalHeaderKey(std::string_view key) {
  static constexpr std::string_view kTokenExtra = "!#$%&'*+-.^_`|~";
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && kTokenExtra.find(c) == std::string_view::npos) {
      return std::string(key);
    }
  }
  std::string out(key);
  bool upper = true;
  for (char& c : out) {
    c = upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
              : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    upper = c == '-';
  }
  return out;
}

Status AddHeaderValue(json& out, std::string_view key, const json& value) {
  if (key.empty() || !IsValidUtf8(key)) return Status::InvalidArgument("invalid header name");
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
    if (!IsValidUtf8(text)) return Status::InvalidArgument("header values must be valid UTF-8");
  } else if (value.is_number()) {
    text = value.dump();
  } else {
    return Status::InvalidArgument("received non-string value for header " + DescribeValue(json(key)));
  }
  json& slot = out[CanonicalHeaderKey(key)];
  if (!slot.is_array()) slot = json::array();
  slot.push_back(std::move(text));
  return Status::Ok();
}

Result<json> HeaderFromObject(const json& obj) {
  json out = json::object();
  for (const auto& [k, v] : obj.items()) {
    if (v.is_array()) {
      for (const json& e : v) TC_RETURN_IF_ERROR(AddHeaderValue(out, k, e));
    } else {
      TC_RETURN_IF_ERROR(AddHeaderValue(out, k, v));
    }
  }
  return out;
}

Result<json> ParseHeader(const json& raw) {
  constexpr std::string_view kExpected = "headers (an object, a JSON string or a list of \"name:value\")";
  if (raw.is_null()) return json::object();
  if (raw.is_object()) return HeaderFromObject(raw);
  if (raw.is_array() && raw.empty()) return json::object();
  if (raw.is_string()) {
    const std::string& s = raw.get_ref<const std::string&>();
    std::optional<std::string> decoded = Base64StdDecode(s);
    json parsed = json::parse(decoded ? *decoded : s, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) return TypeError(kExpected, raw);
    return HeaderFromObject(parsed);
  }
  if (raw.is_array()) {
    json out = json::object();
    for (const json& e : raw) {
      if (!e.is_string()) return TypeError(kExpected, raw);
      const std::string& pair = e.get_ref<const std::string&>();
      size_t colon = pair.find(':');
      if (colon == std::string::npos || colon == 0) {
        return Status::InvalidArgument("invalid key pair " + DescribeValue(e) + " (expected \"name:value\")");
      }
      TC_RETURN_IF_ERROR(AddHeaderValue(out, pair.substr(0, colon), json(pair.substr(colon + 1))));
    }
    return out;
  }
  return TypeError(kExpected, raw);
}

Result<json> ParseDuration(const FieldSchema& schema, const json& raw) {
  TC_ASSIGN_OR_RETURN(int64_t secs, ParseDurationSecond(raw));
  if (schema.type == FieldType::kDurationSecond && secs < 0) {
    return Status::InvalidArgument("expected a non-negative duration, got " + DescribeValue(raw));
  }
  return json(secs);
}

// Rejects invalid UTF-8 anywhere in a free-form JSON value, and absurd nesting.
Status CheckJsonText(const json& v, int depth = 0) {
  constexpr int kMaxDepth = 64;
  if (depth > kMaxDepth) return Status::InvalidArgument("value is nested too deeply");
  if (v.is_string()) {
    if (!IsValidUtf8(v.get_ref<const std::string&>()))
      return Status::InvalidArgument("expected valid UTF-8 text");
  } else if (v.is_object()) {
    for (const auto& [k, e] : v.items()) {
      if (!IsValidUtf8(k)) return Status::InvalidArgument("expected valid UTF-8 keys");
      TC_RETURN_IF_ERROR(CheckJsonText(e, depth + 1));
    }
  } else if (v.is_array()) {
    for (const json& e : v) TC_RETURN_IF_ERROR(CheckJsonText(e, depth + 1));
  }
  return Status::Ok();
}

Result<json> ParseScalarOrSlice(const FieldSchema& schema, const json& raw) {
  switch (schema.type) {
    case FieldType::kString: {
      TC_ASSIGN_OR_RETURN(std::string s, WeakString(raw));
      return json(std::move(s));
    }
    case FieldType::kLowerCaseString: {
      TC_ASSIGN_OR_RETURN(std::string s, WeakString(raw));
      std::transform(s.begin(), s.end(), s.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return json(std::move(s));
    }
    case FieldType::kNameString: {
      TC_ASSIGN_OR_RETURN(std::string s, WeakString(raw));
      if (!IsGenericName(s)) {
        return TypeError(
            "a name (letters, digits, '_', '-' and '.', starting and ending with a letter, "
            "digit or '_')",
            raw);
      }
      return json(std::move(s));
    }
    case FieldType::kInt:
    case FieldType::kInt64: {
      TC_ASSIGN_OR_RETURN(int64_t v, WeakInt(raw));
      return json(v);
    }
    case FieldType::kBool: {
      TC_ASSIGN_OR_RETURN(bool v, WeakBool(raw));
      return json(v);
    }
    case FieldType::kDurationSecond:
    case FieldType::kSignedDurationSecond: return ParseDuration(schema, raw);
    case FieldType::kStringSlice: {
      if (raw.is_string() && raw.get_ref<const std::string&>().empty()) return json::array();
      TC_ASSIGN_OR_RETURN(std::vector<std::string> v, WeakStringSlice(raw, "a list of strings"));
      return TrimmedArray(std::move(v));
    }
    case FieldType::kCommaStringSlice: {
      if (raw.is_string()) {
        const std::string& s = raw.get_ref<const std::string&>();
        if (s.empty()) return json::array();
        if (!IsValidUtf8(s)) return Status::InvalidArgument("expected valid UTF-8 text");
        return TrimmedArray(SplitComma(s));
      }
      TC_ASSIGN_OR_RETURN(std::vector<std::string> v,
                          WeakStringSlice(raw, "a list of strings or a comma-separated string"));
      return TrimmedArray(std::move(v));
    }
    case FieldType::kSlice:
      if (raw.is_null()) return json::array();
      if (raw.is_object()) {
        if (raw.empty()) return json::array();
        return TypeError("a list", raw);
      }
      TC_RETURN_IF_ERROR(CheckJsonText(raw));
      if (raw.is_array()) return raw;
      return json::array({raw});
    case FieldType::kMap:
      if (raw.is_null()) return json::object();
      if (raw.is_object()) {
        TC_RETURN_IF_ERROR(CheckJsonText(raw));
        return raw;
      }
      if (raw.is_array() && raw.empty()) return json::object();
      return TypeError("a JSON object", raw);
    case FieldType::kKVPairs: return ParseKVPairs(raw);
    case FieldType::kHeader: return ParseHeader(raw);
  }
  return Status::Internal("unknown field type");
}

// Checks `value` (already parsed) against the schema's allowed values.
Status CheckAllowed(const FieldSchema& schema, const json& value) {
  if (schema.allowed_values.empty()) return Status::Ok();
  bool elementwise = schema.type == FieldType::kStringSlice || schema.type == FieldType::kCommaStringSlice ||
                     schema.type == FieldType::kSlice;
  if (!elementwise && (schema.type == FieldType::kMap || schema.type == FieldType::kKVPairs ||
                       schema.type == FieldType::kHeader)) {
    return Status::Ok();
  }
  std::vector<json> allowed;
  for (const json& a : schema.allowed_values) {
    if (elementwise) {
      allowed.push_back(a);
      if (!a.is_array() && !a.is_object()) {
        Result<std::string> s = WeakString(a);
        if (s.ok()) allowed.emplace_back(*s);
      }
      continue;
    }
    Result<json> parsed = ParseScalarOrSlice(schema, a);
    if (parsed.ok()) allowed.push_back(*parsed);
  }
  auto is_allowed = [&](const json& v) {
    return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
  };
  std::vector<json> values;
  if (elementwise) {
    values.assign(value.begin(), value.end());
  } else {
    values.push_back(value);
  }
  for (const json& v : values) {
    if (!is_allowed(v)) {
      return Status::InvalidArgument(DescribeValue(v) + " is not one of the allowed values " +
                                     SanitizeUtf8(json(schema.allowed_values).dump()));
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t j = 1; j <= n; ++j) {
      auto cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x80 ? c : '?');
  }
  return out;
}

std::string DescribeValue(const json& v) {
  constexpr size_t kMaxShown = 64;
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "a list";
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::string: {
      std::string s = SanitizeUtf8(v.get_ref<const std::string&>());
      bool cut = s.size() > kMaxShown;
      if (cut) {
        s.resize(kMaxShown);
        while (!s.empty() && !IsValidUtf8(s)) s.pop_back();
      }
      return json(s).dump() + (cut ? "..." : "");
    }
    default: {
      std::string s = v.dump();
      if (s.size() > kMaxShown) s = s.substr(0, kMaxShown) + "...";
      return s;
    }
  }
}

bool IsGenericName(std::string_view s) {
  if (s.empty() || !IsWordChar(s.front()) || !IsWordChar(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsWordChar(c) || c == '-' || c == '.'; });
}

Result<std::string> WeakString(const json& raw) {
  switch (raw.type()) {
    case json::value_t::null: return std::string();
    case json::value_t::string: {
      const std::string& s = raw.get_ref<const std::string&>();
      if (!IsValidUtf8(s)) return Status::InvalidArgument("expected valid UTF-8 text");
      return s;
    }
    case json::value_t::boolean: return std::string(raw.get<bool>() ? "1" : "0");
    case json::value_t::number_integer: return std::to_string(raw.get<int64_t>());
    case json::value_t::number_unsigned: return std::to_string(raw.get<uint64_t>());
    case json::value_t::number_float: return raw.dump();
    default: return TypeError("a string", raw);
  }
}

Result<int64_t> WeakInt(const json& raw) {
  constexpr std::string_view kExpected = "an integer";
  switch (raw.type()) {
    case json::value_t::null: return int64_t{0};
    case json::value_t::boolean: return int64_t{raw.get<bool>() ? 1 : 0};
    case json::value_t::number_integer: return raw.get<int64_t>();
    case json::value_t::number_unsigned: {
      auto u = raw.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Status::InvalidArgument("integer out of range: " + DescribeValue(raw));
      }
      return static_cast<int64_t>(u);
    }
    case json::value_t::number_float: {
      std::optional<int64_t> v = IntegralDouble(raw.get<double>());
      if (!v) return TypeError("an integer (no fraction, within 64 bits)", raw);
      return *v;
    }
    case json::value_t::string: {
      const std::string& s = raw.get_ref<const std::string&>();
      if (s.empty()) return int64_t{0};
      std::optional<int64_t> v = ParseIntBase0(s);
      if (!v) return TypeError(kExpected, raw);
      return *v;
    }
    default: return TypeError(kExpected, raw);
  }
}

Result<bool> WeakBool(const json& raw) {
  constexpr std::string_view kExpected = "a boolean (true or false)";
  switch (raw.type()) {
    case json::value_t::null: return false;
    case json::value_t::boolean: return raw.get<bool>();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: {
      double d = raw.get<double>();
      if (d == 1) return true;
      if (d == 0) return false;
      return TypeError(kExpected, raw);
    }
    case json::value_t::string: {
      static constexpr std::array<std::string_view, 6> kTrue = {"1", "t", "T", "TRUE", "true", "True"};
      static constexpr std::array<std::string_view, 6> kFalse = {"0", "f", "F", "FALSE", "false", "False"};
      const std::string& s = raw.get_ref<const std::string&>();
      if (s.empty()) return false;
      if (std::find(kTrue.begin(), kTrue.end(), s) != kTrue.end()) return true;
      if (std::find(kFalse.begin(), kFalse.end(), s) != kFalse.end()) return false;
      return TypeError(kExpected, raw);
    }
    default: return TypeError(kExpected, raw);
  }
}

Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text) {
  const std::string orig(text);
  auto invalid = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(why) + " in duration " +
                                   DescribeValue(json(SanitizeUtf8(orig))));
  };
  constexpr uint64_t kLimit = uint64_t{1} << 63;
  std::string_view s = text;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return invalid("invalid syntax");
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return invalid("invalid syntax");
    uint64_t v = 0;
    size_t before = s.size();
    while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
      if (v > kLimit / 10) return invalid("overflow");
      v = v * 10 + static_cast<uint64_t>(s[0] - '0');
      if (v > kLimit) return invalid("overflow");
      s.remove_prefix(1);
    }
    bool pre = s.size() != before;
    uint64_t frac = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t fb = s.size();
      bool overflow = false;
      while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
        if (!overflow) {
          if (frac > (kLimit - 1) / 10) {
            overflow = true;
          } else {
            uint64_t y = frac * 10 + static_cast<uint64_t>(s[0] - '0');
            if (y > kLimit) {
              overflow = true;
            } else {
              frac = y;
              scale *= 10;
            }
          }
        }
        s.remove_prefix(1);
      }
      post = s.size() != fb;
    }
    if (!pre && !post) return invalid("invalid syntax");
    size_t i = 0;
    while (i < s.size() && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9')) ++i;
    if (i == 0) return invalid("missing unit");
    std::string_view unit_name = s.substr(0, i);
    s.remove_prefix(i);
    uint64_t unit = 0;
    if (unit_name == "ns") {
      unit = 1;
    } else if (unit_name == "us" || unit_name == "\xc2\xb5s" || unit_name == "\xce\xbcs") {
      unit = 1000;
    } else if (unit_name == "ms") {
      unit = 1000000;
    } else if (unit_name == "s") {
      unit = 1000000000;
    } else if (unit_name == "m") {
      unit = 60ull * 1000000000;
    } else if (unit_name == "h") {
      unit = 3600ull * 1000000000;
    } else {
      return invalid("unknown unit");
    }
    if (v > kLimit / unit) return invalid("overflow");
    v *= unit;
    if (frac > 0) {
      v += static_cast<uint64_t>(static_cast<double>(frac) * (static_cast<double>(unit) / scale));
      if (v > kLimit) return invalid("overflow");
    }
    total += v;
    if (total > kLimit) return invalid("overflow");
  }
  if (neg) {
    return std::chrono::nanoseconds(total == kLimit ? std::numeric_limits<int64_t>::min()
                                                    : -static_cast<int64_t>(total));
  }
  if (total > kLimit - 1) return invalid("overflow");
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

Result<int64_t> ParseDurationSecond(const json& raw) {
  auto bad = [&raw]() { return TypeError("a duration (\"90\", \"15m\", \"1h30m\")", raw); };
  auto in_range = [&](int64_t secs) -> Result<int64_t> {
    if (secs > kMaxDurationSeconds || secs < -kMaxDurationSeconds) {
      return Status::InvalidArgument("duration out of range: " + DescribeValue(raw));
    }
    return secs;
  };
  switch (raw.type()) {
    case json::value_t::null: return int64_t{0};
    case json::value_t::number_integer: return in_range(raw.get<int64_t>());
    case json::value_t::number_unsigned: {
      auto u = raw.get<uint64_t>();
      if (u > static_cast<uint64_t>(kMaxDurationSeconds)) return in_range(kMaxDurationSeconds + 1);
      return static_cast<int64_t>(u);
    }
    case json::value_t::number_float: {
      std::optional<int64_t> v = IntegralDouble(raw.get<double>());
      if (!v) return bad();
      return in_range(*v);
    }
    case json::value_t::string: {
      const std::string& s = raw.get_ref<const std::string&>();
      if (s.empty()) return int64_t{0};
      if (std::optional<int64_t> v = ParseDecimal(s)) return in_range(*v);
      if (s.back() == 'd') {
        std::optional<int64_t> days = ParseDecimal(std::string_view(s).substr(0, s.size() - 1));
        if (!days || *days > kMaxDurationSeconds / 86400 || *days < -kMaxDurationSeconds / 86400)
          return bad();
        return *days * 86400;
      }
      Result<std::chrono::nanoseconds> d = ParseGoDuration(s);
      if (!d.ok()) return bad();
      return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(*d).count());
    }
    default: return bad();
  }
}

Result<json> ParseField(const FieldSchema& schema, const json& raw) {
  Result<json> parsed = ParseScalarOrSlice(schema, raw);
  Status st = parsed.ok() ? CheckAllowed(schema, *parsed) : parsed.status();
  if (!st.ok()) {
    return Status::InvalidArgument("field \"" + SanitizeUtf8(schema.name) + "\": " + st.message());
  }
  return parsed;
}

Result<json> DefaultOrZero(const FieldSchema& schema) {
  if (!schema.default_value.is_null()) return ParseField(schema, schema.default_value);
  switch (schema.type) {
    case FieldType::kString:
    case FieldType::kLowerCaseString:
    case FieldType::kNameString: return json("");
    case FieldType::kInt:
    case FieldType::kInt64:
    case FieldType::kDurationSecond:
    case FieldType::kSignedDurationSecond: return json(0);
    case FieldType::kBool: return json(false);
    case FieldType::kSlice:
    case FieldType::kStringSlice:
    case FieldType::kCommaStringSlice: return json::array();
    case FieldType::kMap:
    case FieldType::kKVPairs:
    case FieldType::kHeader: return json::object();
  }
  return Status::Internal("unknown field type");
}

}  // namespace taskcred::framework
