#include "grants/grant.h"

#include <algorithm>
#include <set>

#include "crypto/hash.h"
#include "grants/resource.h"

namespace taskcred::grants {
namespace {

using common::Result;
using common::Status;
using internal::ParseResource;
using internal::Quote;
using internal::ResourceKind;
using nlohmann::json;

Status ValidateActions(const std::vector<std::string>& actions) {
  if (actions.empty()) return Status::InvalidArgument("actions: at least one action is required");
  if (actions.size() > kMaxActionsPerGrant) return Status::InvalidArgument("actions: at most 32 per grant");
  std::set<std::string_view> seen;
  for (const auto& a : actions) {
    TC_RETURN_IF_ERROR(ValidateAction(a));
    if (!seen.insert(a).second) return Status::InvalidArgument("actions: " + Quote(a) + " is listed twice");
  }
  return Status::Ok();
}

Status ValidateAs(const Grant& g, ResourceKind kind) {
  auto parsed = ParseResource(g.resource, kind);
  if (!parsed.ok()) return parsed.status();
  return ValidateActions(g.actions);
}

bool SegmentsMatch(const std::vector<std::string_view>& pattern, const std::vector<std::string_view>& resource) {
  bool rest = !pattern.empty() && pattern.back() == "**";
  size_t fixed = rest ? pattern.size() - 1 : pattern.size();
  if (rest ? resource.size() < pattern.size() : resource.size() != pattern.size()) return false;
  for (size_t i = 0; i < fixed; ++i) {
    if (pattern[i] != "*" && pattern[i] != resource[i]) return false;
  }
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One item of a role's grants array: an object or a shorthand string.
Result<Grant> GrantFromJson(const json& item, bool allow_shorthand) {
  if (item.is_string() && allow_shorthand) return ParseGrantShorthand(item.get_ref<const std::string&>());
  if (!item.is_object()) {
    return Status::InvalidArgument(allow_shorthand
                                       ? "must be an object {\"resource\", \"actions\"} or a shorthand string"
                                       : "must be an object {\"resource\", \"actions\"}");
  }
  for (const auto& [key, unused] : item.items()) {
    if (key != "resource" && key != "actions") {
      return Status::InvalidArgument("unknown member " + Quote(key) + " (allowed: resource, actions)");
    }
  }
  Grant g;
  auto res = item.find("resource");
  if (res == item.end() || !res->is_string()) return Status::InvalidArgument("\"resource\" must be a string");
  g.resource = res->get<std::string>();
  auto acts = item.find("actions");
  if (acts == item.end() || !acts->is_array()) {
    return Status::InvalidArgument("\"actions\" must be an array of strings");
  }
  for (const auto& a : *acts) {
    if (!a.is_string()) return Status::InvalidArgument("\"actions\" must be an array of strings");
    g.actions.push_back(a.get<std::string>());
  }
  return g;
}

Result<std::vector<Grant>> ParseArray(const json& array, bool templates) {
  if (array.empty()) return Status::InvalidArgument("grants: at least one grant is required");
  if (array.size() > kMaxGrants) return Status::InvalidArgument("grants: at most 100 grants");
  std::vector<Grant> out;
  out.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    auto g = GrantFromJson(array[i], templates);
    Status s = g.ok() ? (templates ? ValidateGrantTemplate(*g) : ValidateGrant(*g)) : g.status();
    if (!s.ok()) return Status::InvalidArgument("grants[" + std::to_string(i) + "]: " + s.message());
    out.push_back(std::move(g).value());
  }
  return out;
}

}  // namespace

Status ValidateAction(std::string_view action) {
  auto bad = [&] {
    return Status::InvalidArgument("action " + Quote(action) + " must match [a-z][a-z0-9_-]* (at most 64 bytes)");
  };
  if (action.empty() || action.size() > kMaxActionBytes || action[0] < 'a' || action[0] > 'z') return bad();
  for (char c : action) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return bad();
  }
  return Status::Ok();
}

Status ValidateGrantTemplate(const Grant& g) { return ValidateAs(g, ResourceKind::kTemplate); }
Status ValidateGrant(const Grant& g) { return ValidateAs(g, ResourceKind::kGrant); }

bool IsPathSegmentChar(char c) { return internal::IsSegmentChar(c); }

Status ValidateConcreteResource(std::string_view resource) {
  auto parsed = ParseResource(resource, ResourceKind::kConcrete);
  return parsed.ok() ? Status::Ok() : parsed.status();
}

bool MatchesResource(std::string_view pattern, std::string_view resource) {
  auto p = ParseResource(pattern, ResourceKind::kGrant);
  auto r = ParseResource(resource, ResourceKind::kConcrete);
  if (!p.ok() || !r.ok()) return false;
  return p->scheme == r->scheme && p->authority == r->authority && SegmentsMatch(p->segments, r->segments);
}

bool Allows(const std::vector<Grant>& grants, std::string_view resource, std::string_view action) {
  if (!ValidateAction(action).ok()) return false;
  auto r = ParseResource(resource, ResourceKind::kConcrete);
  if (!r.ok()) return false;
  for (const Grant& g : grants) {
    if (std::find(g.actions.begin(), g.actions.end(), action) == g.actions.end()) continue;
    if (!ValidateActions(g.actions).ok()) continue;
    auto p = ParseResource(g.resource, ResourceKind::kGrant);
    if (!p.ok()) continue;
    if (p->scheme == r->scheme && p->authority == r->authority && SegmentsMatch(p->segments, r->segments)) {
      return true;
    }
  }
  return false;
}

bool PatternCovers(std::string_view parent, std::string_view child) {
  auto p = ParseResource(parent, ResourceKind::kGrant);
  auto c = ParseResource(child, ResourceKind::kGrant);
  if (!p.ok() || !c.ok()) return false;
  if (p->scheme != c->scheme || p->authority != c->authority) return false;
  const auto& ps = p->segments;
  const auto& cs = c->segments;
  bool parent_rest = !ps.empty() && ps.back() == "**";
  bool child_rest = !cs.empty() && cs.back() == "**";
  // The lengths the child matches must all be lengths the parent matches:
  // exactly |cs| (or |cs| and more with "**") within exactly |ps| (or more).
  if (parent_rest ? cs.size() < ps.size() : (child_rest || cs.size() != ps.size())) return false;
  size_t fixed = parent_rest ? ps.size() - 1 : ps.size();
  for (size_t i = 0; i < fixed; ++i) {
    // (A child "**" cannot stand here: the length rule above put it at or
    // after the parent's "**", and "*" never covers it.)
    if (ps[i] == "*") continue;
    if (cs[i] != ps[i]) return false;  // a literal is covered only by itself
  }
  return true;  // positions from `fixed` on fall under the parent's "**"
}

Status CheckNarrower(const std::vector<Grant>& parent, const std::vector<Grant>& child) {
  if (child.empty()) return Status::InvalidArgument("grants: at least one grant is required");
  if (child.size() > kMaxGrants) return Status::InvalidArgument("grants: at most 100 grants");
  for (size_t i = 0; i < child.size(); ++i) {
    const Grant& c = child[i];
    std::string where = "grants[" + std::to_string(i) + "]: ";
    if (Status s = ValidateGrant(c); !s.ok()) return Status::InvalidArgument(where + s.message());
    for (const std::string& action : c.actions) {
      bool covered = std::any_of(parent.begin(), parent.end(), [&](const Grant& p) {
        return std::find(p.actions.begin(), p.actions.end(), action) != p.actions.end() &&
               ValidateActions(p.actions).ok() && PatternCovers(p.resource, c.resource);
      });
      if (!covered) {
        return Status::InvalidArgument(where + Quote(action) + " on " + Quote(c.resource) +
                                       " is not covered by any grant of the parent credential (a delegated grant "
                                       "must name a subset of one parent grant's actions and resources)");
      }
    }
  }
  return Status::Ok();
}

Result<Grant> ParseGrantShorthand(std::string_view text) {
  auto fail = [&](std::string_view rule) {
    return Status::InvalidArgument("grant " + Quote(text) + ": " + std::string(rule));
  };
  const std::string_view kForm = "must be 'ACTION[,ACTION] RESOURCE' with exactly one space between them";
  size_t space = text.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= text.size()) return fail(kForm);
  std::string_view actions = text.substr(0, space);
  std::string_view resource = text.substr(space + 1);
  if (std::any_of(actions.begin(), actions.end(), IsSpace) || std::any_of(resource.begin(), resource.end(), IsSpace)) {
    return fail(std::string(kForm) + " (no other whitespace)");
  }
  Grant g;
  g.resource = std::string(resource);
  while (true) {
    size_t comma = actions.find(',');
    g.actions.emplace_back(actions.substr(0, comma));
    if (comma == std::string_view::npos) break;
    actions = actions.substr(comma + 1);
  }
  if (Status s = ValidateGrantTemplate(g); !s.ok()) return fail(s.message());
  return g;
}

Result<std::vector<Grant>> ParseGrants(const json& value) {
  if (value.is_array()) return ParseArray(value, /*templates=*/true);
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (!text.empty() && text[0] == '[') {
      json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded() || !parsed.is_array()) {
        return Status::InvalidArgument("grants: a string starting with '[' must be a JSON array");
      }
      return ParseArray(parsed, /*templates=*/true);
    }
    auto g = ParseGrantShorthand(text);
    if (!g.ok()) return Status::InvalidArgument("grants[0]: " + g.status().message());
    return std::vector<Grant>{std::move(g).value()};
  }
  return Status::InvalidArgument("grants: must be a list of {\"resource\", \"actions\"} objects or shorthand strings");
}

Result<std::vector<Grant>> ParseRenderedGrants(const json& value) {
  if (!value.is_array()) return Status::InvalidArgument("grants: must be an array of {\"resource\", \"actions\"}");
  return ParseArray(value, /*templates=*/false);
}

json GrantsToJson(const std::vector<Grant>& grants) {
  json out = json::array();
  for (const Grant& g : grants) out.push_back({{"resource", g.resource}, {"actions", g.actions}});
  return out;
}

std::string GrantsHash(const std::vector<Grant>& grants) {
  // Grants that passed validation are ASCII, so dump() cannot throw; for
  // anything else fall back to replacing invalid bytes rather than throwing.
  return crypto::Sha256Hex(GrantsToJson(grants).dump(-1, ' ', false, json::error_handler_t::replace));
}

std::vector<std::string> TemplatePlaceholders(std::string_view resource) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = resource.find("{{", pos)) != std::string_view::npos) {
    size_t close = resource.find("}}", pos + 2);
    if (close == std::string_view::npos) break;
    std::string name(resource.substr(pos + 2, close - pos - 2));
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
    pos = close + 2;
  }
  return out;
}

std::string_view LiteralPrefix(std::string_view template_resource) {
  size_t end = template_resource.find("{{");
  // A wildcard segment starts right after a '/': "/*" ends the literal part.
  size_t star = template_resource.find("/*");
  if (star != std::string_view::npos) star += 1;
  return template_resource.substr(0, std::min(end, star));
}

Result<Grant> RenderGrant(const Grant& tmpl, const PlaceholderLookup& lookup) {
  TC_RETURN_IF_ERROR(ValidateGrantTemplate(tmpl));
  const std::string& t = tmpl.resource;
  std::string rendered;
  rendered.reserve(t.size());
  size_t pos = 0;
  while (true) {
    size_t open = t.find("{{", pos);
    rendered.append(t, pos, open == std::string::npos ? std::string::npos : open - pos);
    if (open == std::string::npos) break;
    size_t close = t.find("}}", open + 2);  // exists: the template validated
    std::string_view name = std::string_view(t).substr(open + 2, close - open - 2);
    TC_ASSIGN_OR_RETURN(PlaceholderValue v, lookup(name));
    auto bad = [&](std::string_view rule) {
      return Status::InvalidArgument("value for {{" + std::string(name) + "}} " + std::string(rule));
    };
    if (v.value.empty()) return bad("must not be empty");
    if (v.value.find_first_of(kWildcardChars) != std::string::npos) return bad("must not contain '*'");
    for (char c : kSeparatorChars) {
      if (c == '/' && v.may_span_segments) continue;
      if (v.value.find(c) != std::string::npos) {
        return bad(std::string("must not contain '") + c + "'");
      }
    }
    rendered += v.value;
    pos = close + 2;
  }
  Grant out{std::move(rendered), tmpl.actions};
  if (Status s = ValidateGrant(out); !s.ok()) return Status::InvalidArgument("rendered grant: " + s.message());
  std::string_view prefix = LiteralPrefix(tmpl.resource);
  if (std::string_view(out.resource).substr(0, prefix.size()) != prefix) {
    return Status::InvalidArgument("rendered grant " + Quote(out.resource) + " leaves the template prefix " +
                                   Quote(prefix));
  }
  return out;
}

}  // namespace taskcred::grants
