// CompiledPattern: a path pattern compiled once with RE2 (Go regexp syntax,
// named captures `(?P<name>...)`), anchored ^...$ as Vault's framework does.
// Immutable after Compile; safe for concurrent use. Copies share the regex.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace re2 {
class RE2;
}

namespace taskcred::framework {

class CompiledPattern {
 public:
  // Anchors `pattern` (adds '^'/'$' unless present) and compiles it.
  // InvalidArgument for a blank or invalid pattern, naming it and RE2's error.
  static common::Result<CompiledPattern> Compile(std::string_view pattern);

  // The anchored pattern text (shown by root help).
  const std::string& anchored() const { return anchored_; }
  // Names of the named capture groups, in group order.
  const std::vector<std::string>& capture_names() const { return names_; }

  // std::nullopt if `path` does not match; else every named capture ->
  // its text ("" when an optional group did not take part).
  std::optional<std::map<std::string, std::string>> Match(std::string_view path) const;

 private:
  CompiledPattern() = default;
  std::string anchored_;
  std::shared_ptr<const re2::RE2> re_;
  std::vector<std::string> names_;
  std::vector<int> groups_;  // group index of names_[i]
  int num_groups_ = 0;
};

}  // namespace taskcred::framework
