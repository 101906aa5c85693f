// Delegator: a narrower credential for a sub-task (delegate, delegate/preview;
// docs/engine.md, "Delegation").
//
// The parent is the credential presented as `token` (with a DPoP proof when
// it is bound): it must be one Introspect calls active, every ancestor
// included. The child is a task of its own (own task_id, own lease, never
// renewable) whose every bound is checked, never trusted:
//   depth      parent depth + 1 <= the role's max_delegation_depth
//   grants     grants::CheckNarrower against the parent's grants
//   ttl        <= the parent's remaining life (a 400, not a clamp); default
//              that remaining life; bounded by the mount's max lease TTL
//   max_uses   <= the parent's remaining uses when it has a limit (default
//              them; 0 = unlimited only under an unlimited parent)
//   audience   a subset of the parent's (default the parent's)
//   dpop_jkt   required when the role binds (binding=dpop)
// The child carries sub, role and task of its parent, and "act" naming the
// chain of parents (RFC 8693). Delegating neither spends nor reserves the
// parent's uses. Safe for concurrent use.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "engine/clock.h"
#include "engine/config.h"
#include "engine/introspector.h"
#include "engine/issuer.h"
#include "engine/role.h"
#include "engine/task_store.h"
#include "logical/storage.h"
#include "logical/system_view.h"

namespace taskcred::engine {

struct DelegateInput {
  IntrospectInput parent;  // token, and dpop_proof/method/url when it is bound
  std::optional<nlohmann::json> grants;  // raw: objects or shorthand strings, no placeholders
  std::optional<int64_t> ttl;            // seconds; 0 or absent: the parent's remaining life
  std::optional<int64_t> max_uses;
  std::optional<std::vector<std::string>> audience;
  std::optional<std::string> dpop_jkt;
  std::optional<std::string> instance;  // default: the parent's
};

class Delegator {
 public:
  Delegator(RoleStore& roles, TaskStore& tasks, ConfigStore& config, Issuer& issuer, Introspector& introspector,
            Clock clock)
      : roles_(roles),
        tasks_(tasks),
        config_(config),
        issuer_(issuer),
        introspector_(introspector),
        clock_(std::move(clock)) {}

  // The child delegate would issue, issuing nothing (delegate/preview).
  // InvalidArgument naming the field and rule for anything not provably
  // narrower, and "token" for a parent that is not an active credential.
  common::Result<Issued> Prepare(logical::Storage& storage, logical::SystemView& system_view,
                                 const DelegateInput& input);
  // Prepare + mint + the parent's record lists the child (under the
  // parent's lock, refused if it ended meanwhile) + the child's record.
  common::Result<Issued> Delegate(logical::Storage& storage, logical::SystemView& system_view,
                                  const DelegateInput& input);

 private:
  RoleStore& roles_;
  TaskStore& tasks_;
  ConfigStore& config_;
  Issuer& issuer_;
  Introspector& introspector_;
  Clock clock_;
};

}  // namespace taskcred::engine
