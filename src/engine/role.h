// RoleEntry and RoleStore: task templates stored at roles/<name>.
//
// A RoleEntry is a plain value. ApplyRoleUpdate merges a partial update into
// an entry (fields not given keep their values) and ValidateRole checks the
// result; every problem is InvalidArgument naming the field and the rule.
// RoleStore persists entries and caches decoded roles in memory; Invalidate
// drops one name (InvalidateKey("roles/<name>")). Safe for concurrent use;
// never holds its lock across a storage call.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "grants/grant.h"
#include "logical/storage.h"

namespace taskcred::engine {

inline constexpr std::string_view kCredentialTypeJwt = "jwt";
inline constexpr std::string_view kCredentialTypeOpaque = "opaque";

struct RoleEntry {
  std::string task;
  std::string description;
  std::vector<grants::Grant> grants;
  std::map<std::string, std::string> parameters;  // name -> anchored RE2 regex
  int64_t ttl = 0;                                // seconds; 0 = the mount's default lease TTL
  int64_t max_ttl = 0;                            // seconds; 0 = the mount's max lease TTL
  bool renewable = false;
  int64_t max_uses = 0;               // 0 = unlimited
  std::vector<std::string> audience;  // empty = config.default_audience at issuance
  std::string credential_type{kCredentialTypeJwt};
  bool bind_entity = true;
  // "none", or "dpop": every credential is bound to the key whose thumbprint
  // creds is given as dpop_jkt (RFC 9449), and is only active with a proof.
  std::string binding{"none"};
  // Delegation: how deep a chain of sub-task credentials may grow below a
  // credential of this role (0: none can be delegated; 2: a grandchild is
  // the deepest).
  int64_t max_delegation_depth = 0;
  // Live tasks issued by creds at once (0 = unlimited); issuing beyond is a 429.
  int64_t max_live_tasks = 0;
  // At most one live task per creds/<role>/<instance>.
  bool unique_instance = false;
  // The holder must call heartbeat at least this often (seconds; 0 = off).
  int64_t heartbeat_ttl = 0;

  // Tasks of this role are tracked (live/<role>/<task_id>) by LiveTasks.
  bool Tracked() const { return max_live_tasks > 0 || unique_instance || heartbeat_ttl > 0; }

  // Storage form and response data (the same object).
  nlohmann::json ToJson() const;
  static common::Result<RoleEntry> FromJson(const nlohmann::json& j);

  bool operator==(const RoleEntry&) const = default;
};

// A partial role write: every member set is applied.
struct RoleUpdate {
  std::optional<std::string> task;
  std::optional<std::string> description;
  std::optional<nlohmann::json> grants;  // raw request value (array of objects / shorthand strings)
  std::optional<std::map<std::string, std::string>> parameters;
  std::optional<int64_t> ttl;
  std::optional<int64_t> max_ttl;
  std::optional<bool> renewable;
  std::optional<int64_t> max_uses;
  std::optional<std::vector<std::string>> audience;
  std::optional<std::string> credential_type;
  std::optional<bool> bind_entity;
  std::optional<std::string> binding;
  std::optional<int64_t> max_delegation_depth;
  std::optional<int64_t> max_live_tasks;
  std::optional<bool> unique_instance;
  std::optional<int64_t> heartbeat_ttl;
};

// Bounds of the role fields above.
inline constexpr int64_t kMaxDelegationDepth = 8;
inline constexpr int64_t kMaxLiveTasksLimit = 1000000;

// Role names: ^[a-zA-Z0-9._-]{1,128}$, not "." or "..", no "..".
common::Status ValidateRoleName(std::string_view name);

// Merges `update` into `role` (parsing grants). InvalidArgument names the field.
common::Status ApplyRoleUpdate(const RoleUpdate& update, RoleEntry& role);

// Validates a complete role against the field rules of docs/engine.md and the
// mount's verification_ttl (max_ttl and ttl may not exceed it).
// `tolerated_lifetime`: a ttl/max_ttl above verification_ttl accepted up to
// this value (the stored role's, when a mount that already violates the rule
// is being repaired: the write must not make it worse).
common::Status ValidateRole(const RoleEntry& role, int64_t verification_ttl, int64_t tolerated_lifetime = 0);
// A warning when the role's ttl/max_ttl exceeds verification_ttl (its
// credentials can outlive their signing key in the JWKS); nullopt otherwise.
std::optional<std::string> LifetimeWarning(const RoleEntry& role, int64_t verification_ttl);

class RoleStore {
 public:
  // std::nullopt if no role `name` exists; non-OK only on storage failure.
  common::Result<std::optional<RoleEntry>> Get(logical::Storage& storage, std::string_view name);
  common::Status Put(logical::Storage& storage, std::string_view name, const RoleEntry& role);
  common::Status Delete(logical::Storage& storage, std::string_view name);
  common::Result<std::vector<std::string>> List(logical::Storage& storage);
  // Largest max(ttl, max_ttl) over all stored roles (0 if none), and the role holding it.
  common::Result<std::pair<int64_t, std::string>> LongestLifetime(logical::Storage& storage);

  // Drops the cached role `name` (all roles when `name` is empty).
  void Invalidate(std::string_view name);

 private:
  std::shared_mutex mu_;
  std::map<std::string, RoleEntry, std::less<>> cache_;  // guarded by mu_
  uint64_t generation_ = 0;                              // guarded by mu_
};

}  // namespace taskcred::engine
