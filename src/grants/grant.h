// Grants: what a taskcred credential allows. The ONE definition, shared by the
// engine (role validation, rendering, introspect) and the verification kit.
// The rules, and why they are what they are, are in docs/grants.md; this
// header is the contract.
//
// A grant is a resource pattern plus a list of actions:
//   {"resource": "s3://backups/db1/*", "actions": ["read", "write"]}
//
// Three kinds of resource text, checked by three validators:
//   template  (a role's grant)     may hold {{placeholders}} and wildcards  ValidateGrantTemplate
//   grant     (a rendered grant)   wildcards, no placeholders               ValidateGrant
//   concrete  (a requested resource) neither                               ValidateConcreteResource
// Nothing is ever normalised: text that is not already canonical is refused.
//
// Resource grammar (all three kinds):
//   resource  = scheme "://" authority *( "/" segment )      at most 1024 bytes, 64 segments
//   scheme    = [a-z][a-z0-9+.-]*                              at most 32 bytes
//   authority = 1*[a-z0-9._:-], not all dots, no wildcard
//   segment   = 1*[A-Za-z0-9._~:@+=,-], not all dots ("." and ".." never)
//             | "*"   (grant/template: exactly one segment)
//             | "**"  (grant/template, last segment only: one or more segments)
// In templates, "{{name}}" (name = [A-Za-z0-9_.-]+) may stand inside the
// authority or any segment, alone or next to literal text.
//
// Actions: [a-z][a-z0-9_-]*, at most 64 bytes; 1 to 32 distinct per grant; no
// action wildcard.
//
// All functions are pure and thread-safe. Error messages name the rule and
// quote the offending text (never a secret: grants are not secrets).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace taskcred::grants {

struct Grant {
  std::string resource;
  std::vector<std::string> actions;
  bool operator==(const Grant&) const = default;
};

inline constexpr size_t kMaxResourceBytes = 1024;
inline constexpr size_t kMaxSegments = 64;
inline constexpr size_t kMaxActionBytes = 64;
inline constexpr size_t kMaxActionsPerGrant = 32;
inline constexpr size_t kMaxGrants = 100;

// Characters that a substituted placeholder value may never contain unless
// its parameter regex explicitly allows them. RenderGrant never accepts a
// wildcard in a value, and accepts '/' only for values marked
// may_span_segments; '?', '#', '%' and '\' are outside the resource alphabet
// and are refused everywhere.
inline constexpr std::string_view kWildcardChars = "*";
inline constexpr std::string_view kSeparatorChars = "/?#%\\";
// True for a character a resource's path segment may hold (the grammar
// above): A-Z a-z 0-9 . _ ~ - : @ + = ,
bool IsPathSegmentChar(char c);
// The characters IsPathSegmentChar accepts, for messages.
inline constexpr std::string_view kPathSegmentCharsText = "A-Z a-z 0-9 . _ ~ - : @ + = ,";

// ---- Validation ----

// Role-time check of a grant template: resource grammar with placeholders
// and wildcards allowed, actions grammar. kInvalidArgument naming the rule.
common::Status ValidateGrantTemplate(const Grant& g);
// A rendered grant (what a credential carries): like a template but without
// placeholders.
common::Status ValidateGrant(const Grant& g);
// A concrete resource (a rendered resource without wildcards, or a resource
// being requested): no placeholders, no wildcards, no '.'/'..'/empty
// segments, no percent-encoding, backslashes, control characters, spaces or
// non-ASCII bytes.
common::Status ValidateConcreteResource(std::string_view resource);
// One action name: [a-z][a-z0-9_-]*, at most kMaxActionBytes.
common::Status ValidateAction(std::string_view action);

// ---- Matching ----

// True iff `resource` (a concrete resource) lies inside the grant pattern
// `pattern`: same scheme and authority (exact, case-sensitive), and path
// segments equal one for one, where a "*" pattern segment matches exactly one
// segment and a final "**" matches one or more. False whenever either side
// is invalid (a malformed grant allows nothing).
bool MatchesResource(std::string_view pattern, std::string_view resource);

// True iff some grant in `grants` is valid (ValidateGrant), lists `action`
// exactly, and MatchesResource(grant.resource, resource). Invalid resources
// and actions are never allowed.
bool Allows(const std::vector<Grant>& grants, std::string_view resource, std::string_view action);

// ---- Narrowing (delegation) ----

// True iff every concrete resource `child` (a grant pattern) matches is also
// matched by `parent` (a grant pattern): same scheme and authority, and
// position by position a parent literal is met by the same literal, a parent
// "*" by any one segment ("*" or a literal), and a final parent "**" by one
// or more of anything. So "*" never covers "**", and "s3://b/db1" never
// covers "s3://b/db10". False whenever either side is invalid.
bool PatternCovers(std::string_view parent, std::string_view child);

// Checks that `child` (rendered grants, as a delegation asks for them)
// allows nothing `parent` does not: for every child grant and each of its
// actions, some valid parent grant lists that action and PatternCovers the
// child's resource. 1 to kMaxGrants child grants, each ValidateGrant. The
// first failure is kInvalidArgument naming the child grant and the rule:
// `grants[1]: "write" on "s3://b/x/**" is not covered by any grant of the
// parent credential`.
common::Status CheckNarrower(const std::vector<Grant>& parent, const std::vector<Grant>& child);

// ---- Parsing and serialisation ----

// "ACTION[,ACTION] RESOURCE", exactly one space between the two parts, no
// spaces inside either: "read,write s3://b/x/{{id}}". The result is checked
// with ValidateGrantTemplate.
common::Result<Grant> ParseGrantShorthand(std::string_view text);

// A role's "grants" field. Accepts
//   - a JSON array whose items are {"resource": string, "actions": [string...]}
//     objects (no other members) or shorthand strings,
//   - a single shorthand string,
//   - a string holding such a JSON array (text starting with '[').
// 1 to kMaxGrants grants; each is checked with ValidateGrantTemplate. Errors
// name the index: `grants[2]: action "Read" must match [a-z][a-z0-9_-]*`.
common::Result<std::vector<Grant>> ParseGrants(const nlohmann::json& value);
// The same for rendered grants (a credential's "grants" claim, introspect
// output): only the array-of-objects form, each checked with ValidateGrant.
common::Result<std::vector<Grant>> ParseRenderedGrants(const nlohmann::json& value);

// [{"resource":..,"actions":[..]}...] in the given order.
nlohmann::json GrantsToJson(const std::vector<Grant>& grants);

// Lowercase hex SHA-256 of GrantsToJson(grants).dump() (compact, members in
// lexicographic order): a stable identifier for logs.
std::string GrantsHash(const std::vector<Grant>& grants);

// ---- Templates and rendering ----

// The placeholder names in a template resource, in order of first
// appearance, without duplicates ("{{a}}/x/{{b}}/{{a}}" -> a, b). Assumes a
// resource that passed ValidateGrantTemplate; unbalanced braces are ignored.
std::vector<std::string> TemplatePlaceholders(std::string_view resource);

// The literal text of a template resource before its first placeholder or
// wildcard segment: "s3://b/db-{{id}}/x" -> "s3://b/db-",
// "s3://b/x/*" -> "s3://b/x/". Every rendered resource starts with it.
std::string_view LiteralPrefix(std::string_view template_resource);

struct PlaceholderValue {
  std::string value;
  // True only when the parameter's regex explicitly allows '/': the value may
  // then fill several whole-or-partial segments (each still checked).
  bool may_span_segments = false;
};
// Returns the value for a placeholder name, or an error (e.g. a 400 naming a
// missing parameter) that RenderGrant passes through unchanged.
using PlaceholderLookup = std::function<common::Result<PlaceholderValue>(std::string_view name)>;

// Substitutes every {{name}} in `tmpl.resource` (tmpl must pass
// ValidateGrantTemplate). A value must be non-empty, must not contain a
// wildcard or separator character (except '/' when may_span_segments), and
// the result must pass ValidateGrant and start with LiteralPrefix(tmpl).
// So a value can never widen a grant: it cannot add a wildcard, climb with
// "..", empty a segment, or leave the template's literal prefix.
common::Result<Grant> RenderGrant(const Grant& tmpl, const PlaceholderLookup& lookup);

}  // namespace taskcred::grants
