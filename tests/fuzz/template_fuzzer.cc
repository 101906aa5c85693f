// Fuzz target (c): grant templates, rendering and the widening checks.
//
// Two input forms:
//  - a JSON object {"grants": <role grants field>, "parameters": {name: regex},
//    "values": {...}, "role", "task", "task_id", "instance", "entity_id",
//    "resource", "action"}: ParseGrants -> ValidateParameterDeclarations ->
//    CheckParameterValues -> engine::RenderGrants -> grants::Allows, as the
//    engine does on issuance and introspection;
//  - anything else, as lines: template resource / value / "span" flag /
//    probe resource / action, through grants::RenderGrant directly.
// Invariants (abort when broken): a rendered grant passes ValidateGrant, has
// no placeholder left, keeps the template's actions, starts with the
// template's LiteralPrefix, has no more wildcards than the template, and is
// a valid concrete resource when the template has no wildcard; whatever
// Allows() accepts is a valid concrete resource inside some rendered grant's
// literal prefix.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/template.h"
#include "fuzz_util.h"
#include "grants/grant.h"

namespace grants = taskcred::grants;
namespace engine = taskcred::engine;
using nlohmann::json;

namespace {

size_t CountStars(std::string_view s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '*')); }

void CheckRendered(const grants::Grant& tmpl, const grants::Grant& out) {
  TC_FUZZ_CHECK(grants::ValidateGrant(out).ok(), "rendered grant fails ValidateGrant: " + out.resource);
  TC_FUZZ_CHECK(out.resource.find("{{") == std::string::npos && out.resource.find("}}") == std::string::npos,
                "placeholder left in rendered grant: " + out.resource);
  TC_FUZZ_CHECK(out.actions == tmpl.actions, "rendering changed the actions");
  std::string_view prefix = grants::LiteralPrefix(tmpl.resource);
  TC_FUZZ_CHECK(out.resource.compare(0, prefix.size(), prefix) == 0,
                "rendered grant leaves the literal prefix: " + out.resource + " (template " + tmpl.resource + ")");
  TC_FUZZ_CHECK(CountStars(out.resource) <= CountStars(tmpl.resource),
                "rendering added a wildcard: " + out.resource + " (template " + tmpl.resource + ")");
  if (CountStars(tmpl.resource) == 0) {
    auto st = grants::ValidateConcreteResource(out.resource);
    TC_FUZZ_CHECK(st.ok(), "rendered resource is not concrete: " + out.resource + ": " + st.ToString());
  }
}

void CheckAllows(const std::vector<grants::Grant>& templates, const std::vector<grants::Grant>& rendered,
                 std::string_view probe, std::string_view action) {
  if (!grants::Allows(rendered, probe, action)) return;
  TC_FUZZ_CHECK(grants::ValidateConcreteResource(probe).ok(), "Allows accepted a non-concrete resource");
  TC_FUZZ_CHECK(grants::ValidateAction(action).ok(), "Allows accepted an invalid action");
  bool inside = false;
  for (size_t i = 0; i < rendered.size() && i < templates.size(); ++i) {
    std::string_view prefix = grants::LiteralPrefix(templates[i].resource);
    if (grants::MatchesResource(rendered[i].resource, probe) && probe.substr(0, prefix.size()) == prefix) {
      inside = true;
    }
  }
  TC_FUZZ_CHECK(inside, "Allows accepted a resource outside every template's literal prefix: " + std::string(probe));
}

std::string StringOr(const json& j, const char* key, std::string fallback) {
  auto it = j.find(key);
  if (it != j.end() && it->is_string()) return it->get<std::string>();
  return fallback;
}

void RunEngineForm(const json& in) {
  auto parsed = grants::ParseGrants(in.contains("grants") ? in["grants"] : json());
  if (!parsed.ok()) return;
  for (const auto& g : *parsed) {
    TC_FUZZ_CHECK(grants::ValidateGrantTemplate(g).ok(), "ParseGrants returned an invalid template");
    (void)grants::TemplatePlaceholders(g.resource);
  }
  (void)grants::GrantsHash(*parsed);
  auto reparsed = grants::ParseGrants(grants::GrantsToJson(*parsed));
  TC_FUZZ_CHECK(reparsed.ok() && *reparsed == *parsed, "GrantsToJson does not round-trip through ParseGrants");

  std::map<std::string, std::string> params;
  if (auto it = in.find("parameters"); it != in.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (v.is_string()) params[k] = v.get<std::string>();
    }
  }
  if (!engine::ValidateParameterDeclarations(params).ok()) return;
  for (const auto& g : *parsed) {
    auto parts = engine::ParseTemplate("grants", g.resource, params);
    (void)parts;
  }
  (void)engine::NeedsEntityInfo(*parsed);
  auto values = engine::CheckParameterValues(params, in.contains("values") ? in["values"] : json::object());
  if (!values.ok()) return;

  engine::RenderContext ctx;
  ctx.role = StringOr(in, "role", "role");
  ctx.task = StringOr(in, "task", "task");
  ctx.task_id = StringOr(in, "task_id", "0f8e7c1a");
  if (in.contains("instance")) ctx.instance = StringOr(in, "instance", "i-1");
  ctx.entity_id = StringOr(in, "entity_id", "");
  if (!ctx.entity_id.empty()) {
    taskcred::logical::Entity e;
    e.id = ctx.entity_id;
    e.name = StringOr(in, "entity_name", "ent");
    if (auto it = in.find("metadata"); it != in.end() && it->is_object()) {
      for (const auto& [k, v] : it->items()) {
        if (v.is_string()) e.metadata[k] = v.get<std::string>();
      }
    }
    ctx.entity = e;
  }
  ctx.values = *values;
  ctx.regexes = params;
  auto rendered = engine::RenderGrants(*parsed, ctx);
  if (!rendered.ok()) return;
  TC_FUZZ_CHECK(rendered->size() == parsed->size(), "RenderGrants changed the number of grants");
  for (size_t i = 0; i < parsed->size(); ++i) CheckRendered((*parsed)[i], (*rendered)[i]);
  auto rendered_again = grants::ParseRenderedGrants(grants::GrantsToJson(*rendered));
  TC_FUZZ_CHECK(rendered_again.ok() && *rendered_again == *rendered, "rendered grants do not round-trip");
  CheckAllows(*parsed, *rendered, StringOr(in, "resource", ""), StringOr(in, "action", "read"));
  for (const auto& g : *rendered) CheckAllows(*parsed, *rendered, g.resource, g.actions.empty() ? "" : g.actions[0]);
}

void RunLineForm(std::string_view text) {
  auto lines = taskcred::fuzz::SplitLines(text, 4);
  grants::Grant tmpl{.resource = std::string(lines[0]), .actions = {"read"}};
  if (auto sh = grants::ParseGrantShorthand(lines[0]); sh.ok()) tmpl = *sh;
  if (!grants::ValidateGrantTemplate(tmpl).ok()) return;
  const std::string value(lines[1]);
  const bool span = lines[2] == "span";
  grants::PlaceholderLookup lookup = [&](std::string_view) -> taskcred::common::Result<grants::PlaceholderValue> {
    return grants::PlaceholderValue{.value = value, .may_span_segments = span};
  };
  auto out = grants::RenderGrant(tmpl, lookup);
  if (!out.ok()) return;
  CheckRendered(tmpl, *out);
  std::vector<grants::Grant> t{tmpl}, r{*out};
  std::string_view action = lines[4].empty() ? std::string_view("read") : lines[4];
  CheckAllows(t, r, lines[3], action);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = taskcred::fuzz::AsView(data, size);
  json in = taskcred::fuzz::ParseJson(text);
  if (in.is_object()) {
    RunEngineForm(in);
  } else {
    RunLineForm(text);
  }
  return 0;
}
