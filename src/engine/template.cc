#include "engine/template.h"

#include <re2/re2.h>

#include <array>
#include <utility>

namespace taskcred::engine {

using common::Result;
using common::Status;
using grants::Grant;

namespace {

constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";
constexpr std::string_view kEntityMetaPrefix = "identity.entity.metadata.";
constexpr std::string_view kAliasPrefix = "identity.entity.aliases.";
constexpr std::string_view kAliasMetaInfix = ".metadata.";
constexpr std::array<std::string_view, 4> kReserved = {"role", "task", "task_id", "instance"};

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.';
}

bool IsParameterName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  char first = name[0];
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return true;
}

Result<Placeholder> Classify(std::string_view field, std::string_view text,
                             const std::map<std::string, std::string>& parameters) {
  Placeholder p;
  p.text = std::string(text);
  auto unknown = [&] {
    return Status::InvalidArgument(std::string(field) + ": unknown placeholder {{" + std::string(text) +
                                   "}} (not a declared parameter or a built-in)");
  };
  if (text.empty()) return Status::InvalidArgument(std::string(field) + ": empty placeholder {{}}");
  for (char c : text) {
    if (!IsNameChar(c)) {
      return Status::InvalidArgument(std::string(field) + ": placeholder {{" + std::string(text) +
                                     "}} contains an invalid character");
    }
  }
  if (text == "role") {
    p.kind = Placeholder::Kind::kRole;
  } else if (text == "task") {
    p.kind = Placeholder::Kind::kTask;
  } else if (text == "task_id") {
    p.kind = Placeholder::Kind::kTaskId;
  } else if (text == "instance") {
    p.kind = Placeholder::Kind::kInstance;
  } else if (text == "identity.entity.id") {
    p.kind = Placeholder::Kind::kEntityId;
  } else if (text == "identity.entity.name") {
    p.kind = Placeholder::Kind::kEntityName;
  } else if (StartsWith(text, kEntityMetaPrefix)) {
    p.kind = Placeholder::Kind::kEntityMetadata;
    p.key = std::string(text.substr(kEntityMetaPrefix.size()));
    if (p.key.empty()) return unknown();
  } else if (StartsWith(text, kAliasPrefix)) {
    std::string_view rest = text.substr(kAliasPrefix.size());
    size_t infix = rest.find(kAliasMetaInfix);
    if (infix == std::string_view::npos || infix == 0) return unknown();
    p.kind = Placeholder::Kind::kAliasMetadata;
    p.mount_accessor = std::string(rest.substr(0, infix));
    p.key = std::string(rest.substr(infix + kAliasMetaInfix.size()));
    if (p.key.empty() || p.mount_accessor.find('.') != std::string::npos) return unknown();
  } else if (parameters.count(std::string(text)) != 0) {
    p.kind = Placeholder::Kind::kParameter;
    p.key = std::string(text);
  } else {
    return unknown();
  }
  return p;
}

// Looks up the value of `p`; std::nullopt when the caller/request has none.
std::optional<std::string> Lookup(const Placeholder& p, const RenderContext& ctx) {
  auto from_map = [](const std::map<std::string, std::string>& m,
                     const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
  switch (p.kind) {
    case Placeholder::Kind::kParameter: return from_map(ctx.values, p.key);
    case Placeholder::Kind::kRole: return ctx.role;
    case Placeholder::Kind::kTask: return ctx.task;
    case Placeholder::Kind::kTaskId: return ctx.task_id;
    case Placeholder::Kind::kInstance: return ctx.instance;
    case Placeholder::Kind::kEntityId:
      if (ctx.entity_id.empty()) return std::nullopt;
      return ctx.entity_id;
    case Placeholder::Kind::kEntityName:
      if (!ctx.entity) return std::nullopt;
      return ctx.entity->name;
    case Placeholder::Kind::kEntityMetadata:
      if (!ctx.entity) return std::nullopt;
      return from_map(ctx.entity->metadata, p.key);
    case Placeholder::Kind::kAliasMetadata:
      if (!ctx.entity) return std::nullopt;
      for (const auto& alias : ctx.entity->aliases) {
        if (alias.mount_accessor == p.mount_accessor) return from_map(alias.metadata, p.key);
      }
      return std::nullopt;
  }
  return std::nullopt;
}

// Checks one substituted value against the widening rules. `regex` is the
// parameter's regex text, or empty for built-ins.
Status CheckValue(std::string_view where, std::string_view value, std::string_view regex) {
  if (value.empty()) return Status::InvalidArgument(std::string(where) + ": value is empty");
  if (value.size() > kMaxValueLength) {
    return Status::InvalidArgument(std::string(where) + ": value is longer than " +
                                   std::to_string(kMaxValueLength) + " bytes");
  }
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) {
      return Status::InvalidArgument(
          std::string(where) +
          ": value must be printable ASCII without spaces (no control or non-ASCII "
          "characters)");
    }
    bool special = grants::kWildcardChars.find(c) != std::string_view::npos ||
                   grants::kSeparatorChars.find(c) != std::string_view::npos;
    if (special && regex.find(c) == std::string_view::npos) {
      return Status::InvalidArgument(std::string(where) + ": value may not contain '" + std::string(1, c) +
                                     "' (it could widen the grant)");
    }
    // Outside a resource's alphabet: refused here, naming the value's
    // source, rather than by the rendered grant's validation.
    if (c != '/' && c != '*' && !grants::IsPathSegmentChar(c)) {
      return Status::InvalidArgument(std::string(where) + ": value may not contain '" + std::string(1, c) +
                                     "' (a resource allows " + std::string(grants::kPathSegmentCharsText) +
                                     ")");
    }
  }
  // No piece between '/' may be empty, "." or ".." (no climbing, no empty segment).
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find('/', start);
    if (end == std::string_view::npos) end = value.size();
    std::string_view piece = value.substr(start, end - start);
    if (piece.empty() || piece.find_first_not_of('.') == std::string_view::npos) {
      return Status::InvalidArgument(std::string(where) +
                                     ": value may not contain empty, \".\" or \"..\" path segments");
    }
    start = end + 1;
  }
  return Status::Ok();
}

// True if `regex` ends with a '$' that is not escaped by a backslash.
bool EndsWithUnescapedDollar(std::string_view regex) {
  if (regex.empty() || regex.back() != '$') return false;
  size_t backslashes = 0;
  for (size_t i = regex.size() - 1; i > 0 && regex[i - 1] == '\\'; --i) ++backslashes;
  return backslashes % 2 == 0;
}

}  // namespace

bool IsReservedParameterName(std::string_view name) {
  for (auto r : kReserved) {
    if (name == r) return true;
  }
  return StartsWith(name, "identity");
}

Result<std::vector<TemplatePart>> ParseTemplate(std::string_view field, std::string_view resource,
                                                const std::map<std::string, std::string>& parameters) {
  std::vector<TemplatePart> parts;
  size_t scheme_end = resource.find("://");
  size_t pos = 0;
  while (pos < resource.size()) {
    size_t open = resource.find(kOpen, pos);
    size_t stray_close = resource.find(kClose, pos);
    if (stray_close != std::string_view::npos && (open == std::string_view::npos || stray_close < open)) {
      return Status::InvalidArgument(std::string(field) + ": \"}}\" without a matching \"{{\"");
    }
    if (open == std::string_view::npos) {
      parts.push_back({false, std::string(resource.substr(pos)), {}});
      break;
    }
    if (open > pos) parts.push_back({false, std::string(resource.substr(pos, open - pos)), {}});
    if (scheme_end == std::string_view::npos || open < scheme_end + 3) {
      return Status::InvalidArgument(std::string(field) +
                                     ": placeholders may not appear before the end of \"<scheme>://\"");
    }
    size_t close = resource.find(kClose, open + kOpen.size());
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(std::string(field) + ": unterminated \"{{\"");
    }
    std::string_view text = resource.substr(open + kOpen.size(), close - open - kOpen.size());
    TC_ASSIGN_OR_RETURN(Placeholder p, Classify(field, text, parameters));
    TemplatePart part;
    part.is_placeholder = true;
    part.placeholder = std::move(p);
    parts.push_back(std::move(part));
    pos = close + kClose.size();
  }
  return parts;
}

bool NeedsEntityInfo(const std::vector<Grant>& grants_list) {
  for (const auto& g : grants_list) {
    if (g.resource.find("{{identity.entity.name}}") != std::string::npos ||
        g.resource.find("{{identity.entity.metadata.") != std::string::npos ||
        g.resource.find("{{identity.entity.aliases.") != std::string::npos) {
      return true;
    }
  }
  return false;
}

Status ValidateParameterDeclarations(const std::map<std::string, std::string>& parameters) {
  constexpr size_t kMaxParameters = 100;
  if (parameters.size() > kMaxParameters) {
    return Status::InvalidArgument("parameters: at most " + std::to_string(kMaxParameters) + " parameters");
  }
  for (const auto& [name, regex] : parameters) {
    std::string where = "parameters." + name;
    if (!IsParameterName(name)) {
      return Status::InvalidArgument("parameters: invalid parameter name \"" + name +
                                     "\" (must match ^[A-Za-z_][A-Za-z0-9_]{0,63}$)");
    }
    if (name == "dpop_jkt") {
      return Status::InvalidArgument("parameters: \"dpop_jkt\" is a creds request field and cannot be a parameter");
    }
    if (IsReservedParameterName(name)) {
      return Status::InvalidArgument("parameters: \"" + name +
                                     "\" is a built-in placeholder name and cannot be a parameter");
    }
    if (regex.size() > 1024) return Status::InvalidArgument(where + ": regex is longer than 1024 bytes");
    if (regex.size() < 2 || regex.front() != '^' || !EndsWithUnescapedDollar(regex)) {
      return Status::InvalidArgument(where + ": regex must be anchored (start with ^ and end with $)");
    }
    RE2::Options options;
    options.set_log_errors(false);
    RE2 re(regex, options);
    if (!re.ok()) return Status::InvalidArgument(where + ": regex does not compile: " + re.error());
  }
  return Status::Ok();
}

Result<std::map<std::string, std::string>> CheckParameterValues(
    const std::map<std::string, std::string>& declared, const nlohmann::json& supplied) {
  std::map<std::string, std::string> values;
  if (!supplied.is_null() && !supplied.is_object())
    return Status::InvalidArgument("parameters: expected an object");
  if (supplied.is_object()) {
    for (const auto& [name, raw] : supplied.items()) {
      auto it = declared.find(name);
      if (it == declared.end()) {
        return Status::InvalidArgument(name + ": unknown parameter (the role declares " +
                                       (declared.empty() ? std::string("no parameters") : [&] {
                                         std::string list;
                                         for (const auto& d : declared) list += (list.empty() ? "" : ", ") + d.first;
                                         return list;
                                       }()) +
                                       ")");
      }
      std::string value;
      if (raw.is_string()) {
        value = raw.get<std::string>();
      } else if (raw.is_number_integer()) {
        value = raw.dump();
      } else {
        return Status::InvalidArgument(name + ": parameter value must be a string");
      }
      RE2::Options options;
      options.set_log_errors(false);
      RE2 re(it->second, options);
      if (!re.ok()) return Status::Internal(name + ": stored parameter regex does not compile");
      if (!RE2::FullMatch(value, re)) {
        return Status::InvalidArgument(name + ": value does not match the parameter's regex " + it->second);
      }
      values[name] = std::move(value);
    }
  }
  for (const auto& [name, regex] : declared) {
    if (values.count(name) == 0) return Status::InvalidArgument(name + ": missing required parameter");
  }
  return values;
}

Result<std::vector<Grant>> RenderGrants(const std::vector<Grant>& templates, const RenderContext& ctx) {
  std::vector<Grant> out;
  out.reserve(templates.size());
  for (size_t i = 0; i < templates.size(); ++i) {
    const Grant& t = templates[i];
    std::string field = "grants[" + std::to_string(i) + "]";
    TC_ASSIGN_OR_RETURN(std::vector<TemplatePart> parts, ParseTemplate(field, t.resource, ctx.regexes));
    std::map<std::string, Placeholder, std::less<>> placeholders;
    for (auto& part : parts) {
      if (part.is_placeholder) placeholders.emplace(part.placeholder.text, part.placeholder);
    }
    auto lookup = [&](std::string_view name) -> Result<grants::PlaceholderValue> {
      std::string where = field + " {{" + std::string(name) + "}}";
      auto it = placeholders.find(name);
      if (it == placeholders.end()) return Status::InvalidArgument(where + ": unknown placeholder");
      // A parameter's value is named by the parameter the caller sent.
      if (it->second.kind == Placeholder::Kind::kParameter) where = it->second.key + " (" + where + ")";
      std::optional<std::string> value = Lookup(it->second, ctx);
      if (!value || value->empty()) return Status::InvalidArgument(where + ": no value for this placeholder");
      std::string_view regex;
      if (it->second.kind == Placeholder::Kind::kParameter) {
        auto re = ctx.regexes.find(it->second.key);
        if (re != ctx.regexes.end()) regex = re->second;
      }
      TC_RETURN_IF_ERROR(CheckValue(where, *value, regex));
      return grants::PlaceholderValue{*value, regex.find('/') != std::string_view::npos};
    };
    auto rendered = grants::RenderGrant(t, lookup);
    if (!rendered.ok()) {
      const std::string& msg = rendered.status().message();
      if (msg.rfind(field, 0) == 0) return rendered.status();
      return Status::InvalidArgument(field + ": " + msg);
    }
    out.push_back(std::move(rendered).value());
  }
  return out;
}

}  // namespace taskcred::engine
