// Internal to src/grants: the resource parser behind the three validators.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"

namespace taskcred::grants::internal {

enum class ResourceKind {
  kTemplate,  // placeholders and wildcards
  kGrant,     // wildcards
  kConcrete,  // neither
};

struct ParsedResource {
  std::string_view scheme;
  std::string_view authority;
  std::vector<std::string_view> segments;  // path segments, without '/'
};

// Parses and validates `resource` as `kind` (grammar in grant.h). Views point
// into `resource`. kInvalidArgument: `resource "<text>": <rule>`.
common::Result<ParsedResource> ParseResource(std::string_view resource, ResourceKind kind);

// A character a path segment may hold: A-Z a-z 0-9 . _ ~ - : @ + = ,
bool IsSegmentChar(char c);

// Quotes user text for an error message, truncated and with non-printable
// bytes shown as \xNN.
std::string Quote(std::string_view text);

}  // namespace taskcred::grants::internal
