// Helpers shared by the libFuzzer targets: input splitting, invariant checks
// that abort (so libFuzzer records a crash), UTF-8 validation.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace taskcred::fuzz {

// Aborts with `what` when `cond` is false: an invariant broke.
#define TC_FUZZ_CHECK(cond, what)                                                    \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", std::string(what).c_str(), \
                   __FILE__, __LINE__);                                              \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits off the first `n` lines ('\n'-terminated) of `input`; the remainder
// (possibly empty) is element n. Missing lines are empty.
inline std::vector<std::string_view> SplitLines(std::string_view input, size_t n) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < n; ++i) {
    size_t pos = input.find('\n');
    if (pos == std::string_view::npos) {
      out.push_back(input);
      input = {};
    } else {
      out.push_back(input.substr(0, pos));
      input.remove_prefix(pos + 1);
    }
  }
  out.push_back(input);
  return out;
}

// Parses JSON without exceptions; discarded value on error.
inline nlohmann::json ParseJson(std::string_view text) {
  return nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

// dump() that never throws (invalid UTF-8 is replaced) so a target's own
// serialisation cannot be mistaken for a finding.
inline std::string SafeDump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
inline bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace taskcred::fuzz
