#include "engine/delegator.h"

#include <algorithm>
#include <utility>

#include "dpop/dpop.h"
#include "engine/field_names.h"
#include "engine/json_util.h"

namespace taskcred::engine {

using common::Result;
using common::Status;

namespace {

Status NotActive() {
  return Status::InvalidArgument(
      "token: is not an active credential of this mount (expired, revoked, released, used up, missing its "
      "heartbeat, a descendant of one that ended, unknown, or without the DPoP proof its binding requires)");
}

// The child's grants: the parent's when none are asked for; otherwise
// rendered grants (no placeholders) that CheckNarrower proves narrower.
Result<std::vector<grants::Grant>> ChildGrants(const TaskRecord& parent, const std::optional<nlohmann::json>& raw) {
  if (!raw) return parent.grants;
  TC_ASSIGN_OR_RETURN(std::vector<grants::Grant> asked, grants::ParseGrants(*raw));
  TC_RETURN_IF_ERROR(grants::CheckNarrower(parent.grants, asked));
  return asked;
}

Result<int64_t> ChildUses(const TaskRecord& parent, std::optional<int64_t> asked) {
  const bool limited = parent.max_uses > 0;
  const int64_t remaining = limited ? std::max<int64_t>(0, parent.max_uses - parent.uses) : 0;
  if (!asked) return remaining;  // (0: unlimited, under an unlimited parent)
  if (*asked < 0) return Status::InvalidArgument("max_uses: must not be negative");
  if (limited && (*asked == 0 || *asked > remaining)) {
    return Status::InvalidArgument("max_uses: must be between 1 and the parent's remaining uses (" +
                                   std::to_string(remaining) + ")");
  }
  return *asked;
}

Result<std::vector<std::string>> ChildAudience(const TaskRecord& parent,
                                               const std::optional<std::vector<std::string>>& asked) {
  if (!asked) return parent.audience;
  TC_RETURN_IF_ERROR(ValidateAudienceList(kFieldAudience, *asked));
  if (asked->empty() && !parent.audience.empty()) {
    return Status::InvalidArgument("audience: must not be empty: the parent credential is limited to an audience");
  }
  if (!parent.audience.empty()) {
    for (const std::string& aud : *asked) {
      if (std::find(parent.audience.begin(), parent.audience.end(), aud) == parent.audience.end()) {
        return Status::InvalidArgument("audience: \"" + aud + "\" is not an audience of the parent credential");
      }
    }
  }
  return *asked;
}

}  // namespace

Result<Issued> Delegator::Prepare(logical::Storage& storage, logical::SystemView& system_view,
                                  const DelegateInput& in) {
  if (in.instance) TC_RETURN_IF_ERROR(ValidateInstance(*in.instance));
  if (in.dpop_jkt && !dpop::IsValidThumbprint(*in.dpop_jkt)) {
    return Status::InvalidArgument(
        "dpop_jkt: must be the RFC 7638 SHA-256 thumbprint of the holder's public JWK (43 characters of base64url)");
  }
  if (in.ttl && *in.ttl < 0) return Status::InvalidArgument("ttl: must not be negative");
  TC_ASSIGN_OR_RETURN(TaskStore::RecordPtr parent_ptr, introspector_.Authenticate(storage, in.parent));
  if (!parent_ptr) return NotActive();
  const TaskRecord& parent = *parent_ptr;

  TC_ASSIGN_OR_RETURN(std::optional<RoleEntry> role, roles_.Get(storage, parent.role));
  if (!role) {
    return Status::InvalidArgument("token: the parent credential's role \"" + parent.role +
                                   "\" no longer exists; its credentials cannot be delegated");
  }
  if (static_cast<int64_t>(parent.Depth()) + 1 > role->max_delegation_depth) {
    return Status::InvalidArgument(
        "token: role \"" + parent.role + "\" allows delegation " + std::to_string(role->max_delegation_depth) +
        " level(s) deep (max_delegation_depth) and this credential is at depth " + std::to_string(parent.Depth()));
  }
  if (!in.dpop_jkt && role->binding == kBindingDpop) {
    return Status::InvalidArgument("dpop_jkt: required: role \"" + parent.role +
                                   "\" binds its credentials to the holder's key (binding=dpop)");
  }
  TC_ASSIGN_OR_RETURN(ConfigEntry config, config_.Get(storage));

  int64_t now = UnixSeconds(clock_());
  const int64_t remaining = parent.expires_at - now;  // > 0: the parent is active
  int64_t ttl = in.ttl.value_or(0) > 0 ? *in.ttl : remaining;
  if (ttl > remaining) {
    return Status::InvalidArgument("ttl: " + std::to_string(ttl) + "s exceeds the parent credential's remaining " +
                                   std::to_string(remaining) + "s; a child cannot outlive its parent");
  }
  Issued out;
  // The mount's max lease TTL, asked per delegation as for creds: a tune
  // since the parent was issued must bound the child's lease too.
  TC_ASSIGN_OR_RETURN(std::chrono::seconds mount_max, system_view.MaxLeaseTTL());
  if (mount_max.count() > 0 && ttl > mount_max.count()) {
    out.warnings.push_back("ttl " + std::to_string(ttl) + "s is above the mount's max lease TTL; capped to " +
                           std::to_string(mount_max.count()) + "s");
    ttl = mount_max.count();
  }

  TaskRecord& r = out.record;
  TC_ASSIGN_OR_RETURN(r.grants, ChildGrants(parent, in.grants));
  TC_ASSIGN_OR_RETURN(r.max_uses, ChildUses(parent, in.max_uses));
  TC_ASSIGN_OR_RETURN(r.audience, ChildAudience(parent, in.audience));
  r.expires_at = now + ttl;
  r.max_ttl_at = r.expires_at;
  r.task_id = NewTaskId(r.expires_at);
  r.role = parent.role;
  r.task = parent.task;
  r.instance = in.instance.value_or(parent.instance);
  r.sub = parent.sub;
  r.entity_id = parent.entity_id;
  r.credential_type = parent.credential_type;
  r.issued_at = now;
  r.ttl = ttl;
  r.renewable = false;
  r.cnf_jkt = in.dpop_jkt.value_or("");
  r.ancestors.reserve(parent.ancestors.size() + 1);
  r.ancestors.push_back(parent.task_id);
  r.ancestors.insert(r.ancestors.end(), parent.ancestors.begin(), parent.ancestors.end());
  r.delegable = static_cast<int64_t>(r.Depth()) < role->max_delegation_depth;
  out.ttl = ttl;
  out.max_ttl = ttl;
  out.renewable = false;
  out.claims = CredentialClaims(config.issuer, r);
  return out;
}

Result<Issued> Delegator::Delegate(logical::Storage& storage, logical::SystemView& system_view,
                                   const DelegateInput& in) {
  TC_ASSIGN_OR_RETURN(Issued out, Prepare(storage, system_view, in));
  TC_ASSIGN_OR_RETURN(ConfigEntry config, config_.Get(storage));
  TC_RETURN_IF_ERROR(issuer_.Mint(storage, config, out));
  TaskRecord& child = out.record;
  const std::string& parent_id = child.ancestors.front();
  // The child is recorded under its parent before it exists: a parent that
  // ends from here on sets the child's status bit from that entry. One that
  // ended already refuses, under its lock.
  int64_t now = UnixSeconds(clock_());
  TC_ASSIGN_OR_RETURN(bool listed,
                      tasks_.AddChild(storage, parent_id, {child.task_id, child.status_list, child.status_idx},
                                      [now](const TaskRecord& p) { return p.IsActive(now); }));
  if (!listed) return NotActive();
  TC_RETURN_IF_ERROR(issuer_.Record(storage, out, "credential delegated"));
  // An ancestor that ended while the child was being written may not have
  // seen it (TaskStore::Mutate publishes an end before its hook runs, so
  // this read sees it): the child then ends too, before anyone holds it.
  TC_ASSIGN_OR_RETURN(TaskStore::RecordPtr parent, tasks_.GetShared(storage, parent_id));
  now = UnixSeconds(clock_());
  bool alive = parent && parent->IsActive(now);
  if (alive) {
    TC_ASSIGN_OR_RETURN(alive, introspector_.AncestorsActive(storage, *parent, now));
  }
  if (!alive) {
    TC_RETURN_IF_ERROR(tasks_.Mutate(storage, child.task_id, [](std::optional<TaskRecord>& c) -> Result<bool> {
      if (!c || c->revoked) return false;
      c->revoked = true;
      return true;
    }));
    return NotActive();
  }
  return out;
}

}  // namespace taskcred::engine
