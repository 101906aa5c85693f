// DeclString: the string type of declarations (field names, patterns, help).
//
// It is a std::string that also converts implicitly from std::string_view, so
// declarations can use `constexpr std::string_view` constants directly in
// designated initializers (`.name = kFieldTtl`), which plain std::string does
// not allow. A value type; safe to copy across threads.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace taskcred::framework {

class DeclString : public std::string {
 public:
  DeclString() = default;
  DeclString(const char* s) : std::string(s) {}             // NOLINT(google-explicit-constructor)
  DeclString(std::string s) : std::string(std::move(s)) {}  // NOLINT(google-explicit-constructor)
  DeclString(std::string_view s) : std::string(s) {}        // NOLINT(google-explicit-constructor)
};

}  // namespace taskcred::framework
