// Operation: what a request asks for, with Vault's operation names.
#pragma once

#include <optional>
#include <string_view>

namespace taskcred::logical {

enum class Operation {
  kCreate,
  kRead,
  kUpdate,
  kPatch,
  kDelete,
  kList,
  kHelp,
  kAliasLookahead,
  kResolveRole,
  kHeader,
  kScan,
  kRevoke,
  kRenew,
  kRollback,
};

// Vault's wire name ("create", "read", ..., "alias-lookahead", "resolve-role").
std::string_view OperationName(Operation op);
// Parses a wire name; std::nullopt for names this build does not know.
std::optional<Operation> ParseOperation(std::string_view name);

}  // namespace taskcred::logical
