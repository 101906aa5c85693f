// Path patterns: the regex helpers of Vault's path.go and RE2 compilation.
#include "framework/pattern.h"

#include <re2/re2.h>

#include <utility>

#include "framework/path.h"

namespace taskcred::framework {

std::string GenericNameRegex(std::string_view name) {
  return "(?P<" + std::string(name) + R"(>\w(([\w-.]+)?\w)?))";
}

std::string OptionalGenericNameRegex(std::string_view name) { return "(/" + GenericNameRegex(name) + ")?"; }

std::string GenericNameWithAtRegex(std::string_view name) {
  return "(?P<" + std::string(name) + R"(>\w(([\w-.@]+)?\w)?))";
}

std::string OptionalParamRegex(std::string_view name) { return "(/(?P<" + std::string(name) + ">.+))?"; }

std::string MatchAllRegex(std::string_view name) { return "(?P<" + std::string(name) + ">.*)"; }

std::vector<Path> PathAppend(std::initializer_list<std::vector<Path>> lists) {
  std::vector<Path> out;
  for (const auto& l : lists) out.insert(out.end(), l.begin(), l.end());
  return out;
}

common::Result<CompiledPattern> CompiledPattern::Compile(std::string_view pattern) {
  if (pattern.empty()) return common::Status::InvalidArgument("routing pattern cannot be blank");
  CompiledPattern out;
  out.anchored_ = std::string(pattern);
  if (out.anchored_.front() != '^') out.anchored_.insert(out.anchored_.begin(), '^');
  if (out.anchored_.back() != '$') out.anchored_.push_back('$');
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const RE2>(out.anchored_, options);
  if (!re->ok()) {
    return common::Status::InvalidArgument("invalid routing pattern \"" + std::string(pattern) +
                                           "\": " + re->error());
  }
  out.num_groups_ = re->NumberOfCapturingGroups();
  std::map<int, std::string> by_index;
  for (const auto& [name, index] : re->NamedCapturingGroups()) by_index[index] = name;
  for (const auto& [index, name] : by_index) {
    out.names_.push_back(name);
    out.groups_.push_back(index);
  }
  out.re_ = std::move(re);
  return out;
}

std::optional<std::map<std::string, std::string>> CompiledPattern::Match(std::string_view path) const {
  std::vector<re2::StringPiece> groups(static_cast<size_t>(num_groups_) + 1);
  if (!re_->Match(re2::StringPiece(path.data(), path.size()), 0, path.size(), RE2::UNANCHORED, groups.data(),
                  static_cast<int>(groups.size()))) {
    return std::nullopt;
  }
  std::map<std::string, std::string> captures;
  for (size_t i = 0; i < names_.size(); ++i) {
    const re2::StringPiece& g = groups[static_cast<size_t>(groups_[i])];
    captures[names_[i]] = g.data() == nullptr ? std::string() : std::string(g.data(), g.size());
  }
  return captures;
}

}  // namespace taskcred::framework
