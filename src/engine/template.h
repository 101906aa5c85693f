// Grant templates: `{{placeholder}}` parsing, role-time checks and rendering.
//
// A grant resource may hold placeholders: a declared parameter name, or a
// built-in: role, task, task_id, instance, identity.entity.id,
// identity.entity.name, identity.entity.metadata.<key>,
// identity.entity.aliases.<mount accessor>.metadata.<key>.
//
// Rendering never widens a grant (docs/engine.md, "Widening rules"):
//  - every substituted value is non-empty printable ASCII (0x21-0x7e) of at
//    most kMaxValueLength bytes;
//  - it contains none of grants::kWildcardChars / grants::kSeparatorChars,
//    except a character that a parameter's regex text contains literally
//    (built-in values never may);
//  - parameter values must fully match their anchored regex;
//  - a placeholder may not appear before the resource's "://", so the
//    scheme is always literal;
//  - substitution itself is grants::RenderGrant: a value spans segments only
//    when its regex contains '/', the result must pass grants::ValidateGrant
//    and start with the template's grants::LiteralPrefix.
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "grants/grant.h"
#include "logical/system_view.h"

namespace taskcred::engine {

inline constexpr size_t kMaxValueLength = 256;

struct Placeholder {
  enum class Kind {
    kParameter,
    kRole,
    kTask,
    kTaskId,
    kInstance,
    kEntityId,
    kEntityName,
    kEntityMetadata,  // key = metadata key
    kAliasMetadata,   // mount_accessor + key
  };
  Kind kind = Kind::kParameter;
  std::string text;  // the name between the braces
  std::string key;   // parameter name or metadata key
  std::string mount_accessor;
};

// One piece of a parsed template: literal text or a placeholder.
struct TemplatePart {
  bool is_placeholder = false;
  std::string literal;
  Placeholder placeholder;
};

// Built-in placeholder names that parameters may not shadow.
bool IsReservedParameterName(std::string_view name);

// Splits `resource` into literal text and placeholders, classifying each
// against the declared `parameters`. InvalidArgument (prefixed with `field`)
// for an unterminated "{{", an empty or unknown placeholder, or a
// placeholder before "://".
common::Result<std::vector<TemplatePart>> ParseTemplate(std::string_view field, std::string_view resource,
                                                        const std::map<std::string, std::string>& parameters);

// True if any grant uses identity.entity.name / metadata / alias placeholders
// (those need SystemView::EntityInfo).
bool NeedsEntityInfo(const std::vector<grants::Grant>& grants);

// Checks a role's parameter declarations: names ^[A-Za-z_][A-Za-z0-9_]{0,63}$,
// not reserved; regexes start with '^', end with an unescaped '$', at most 1024
// bytes and compile with RE2. InvalidArgument names "parameters.<name>".
common::Status ValidateParameterDeclarations(const std::map<std::string, std::string>& parameters);

// Checks supplied values (a JSON object: name -> string or integer) against the
// declared parameters: unknown, missing or non-matching values are
// InvalidArgument naming the parameter. Returns the values as strings.
common::Result<std::map<std::string, std::string>> CheckParameterValues(
    const std::map<std::string, std::string>& declared, const nlohmann::json& supplied);

struct RenderContext {
  std::string role;
  std::string task;
  std::string task_id;
  std::optional<std::string> instance;
  std::string entity_id;                       // "" when the caller has no entity
  std::optional<logical::Entity> entity;       // set when NeedsEntityInfo and the entity exists
  std::map<std::string, std::string> values;   // parameter values (already CheckParameterValues'd)
  std::map<std::string, std::string> regexes;  // parameter name -> regex text
};

// Renders every grant's resource. InvalidArgument naming the grant index and
// placeholder for a missing value or a value breaking a widening rule.
common::Result<std::vector<grants::Grant>> RenderGrants(const std::vector<grants::Grant>& templates,
                                                        const RenderContext& context);

}  // namespace taskcred::engine
