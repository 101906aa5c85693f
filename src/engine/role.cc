#include "engine/role.h"

#include <mutex>
#include <utility>

#include "engine/field_names.h"
#include "engine/json_util.h"
#include "engine/storage_keys.h"
#include "engine/template.h"

namespace taskcred::engine {

using common::Result;
using common::Status;

nlohmann::json RoleEntry::ToJson() const {
  return {{kFieldTask, task},
          {kFieldDescription, description},
          {kFieldGrants, grants::GrantsToJson(grants)},
          {kFieldParameters, parameters},
          {kFieldTtl, ttl},
          {kFieldMaxTtl, max_ttl},
          {kFieldRenewable, renewable},
          {kFieldMaxUses, max_uses},
          {kFieldAudience, audience},
          {kFieldCredentialType, credential_type},
          {kFieldBindEntity, bind_entity},
          {kFieldBinding, binding},
          {kFieldMaxDelegationDepth, max_delegation_depth},
          {kFieldMaxLiveTasks, max_live_tasks},
          {kFieldUniqueInstance, unique_instance},
          {kFieldHeartbeatTtl, heartbeat_ttl}};
}

Result<RoleEntry> RoleEntry::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Internal("stored role is not a JSON object");
  RoleEntry r;
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldTask, r.task));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldDescription, r.description));
  if (auto it = j.find(kFieldGrants); it != j.end()) {
    auto parsed = grants::ParseGrants(*it);
    if (!parsed.ok()) return Status::Internal("stored role grants: " + parsed.status().message());
    r.grants = std::move(parsed).value();
  }
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldParameters, r.parameters));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldTtl, r.ttl));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldMaxTtl, r.max_ttl));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldRenewable, r.renewable));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldMaxUses, r.max_uses));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldAudience, r.audience));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldCredentialType, r.credential_type));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldBindEntity, r.bind_entity));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldBinding, r.binding));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldMaxDelegationDepth, r.max_delegation_depth));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldMaxLiveTasks, r.max_live_tasks));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldUniqueInstance, r.unique_instance));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldHeartbeatTtl, r.heartbeat_ttl));
  return r;
}

Status ValidateRoleName(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return Status::InvalidArgument("name: must be 1 to 128 characters from [a-zA-Z0-9._-]");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return Status::InvalidArgument("name: must contain only characters from [a-zA-Z0-9._-]");
  }
  if (name == "." || name.find("..") != std::string_view::npos) {
    return Status::InvalidArgument("name: must not be \".\" or contain \"..\"");
  }
  return Status::Ok();
}

Status ApplyRoleUpdate(const RoleUpdate& u, RoleEntry& role) {
  if (u.task) role.task = *u.task;
  if (u.description) role.description = *u.description;
  if (u.grants) {
    auto parsed = grants::ParseGrants(*u.grants);
    if (!parsed.ok()) {
      const std::string& msg = parsed.status().message();
      return Status::InvalidArgument(msg.rfind("grants", 0) == 0 ? msg : "grants: " + msg);
    }
    role.grants = std::move(parsed).value();
  }
  if (u.parameters) role.parameters = *u.parameters;
  if (u.ttl) role.ttl = *u.ttl;
  if (u.max_ttl) role.max_ttl = *u.max_ttl;
  if (u.renewable) role.renewable = *u.renewable;
  if (u.max_uses) role.max_uses = *u.max_uses;
  if (u.audience) role.audience = *u.audience;
  if (u.credential_type) role.credential_type = *u.credential_type;
  if (u.bind_entity) role.bind_entity = *u.bind_entity;
  if (u.binding) role.binding = *u.binding;
  if (u.max_delegation_depth) role.max_delegation_depth = *u.max_delegation_depth;
  if (u.max_live_tasks) role.max_live_tasks = *u.max_live_tasks;
  if (u.unique_instance) role.unique_instance = *u.unique_instance;
  if (u.heartbeat_ttl) role.heartbeat_ttl = *u.heartbeat_ttl;
  return Status::Ok();
}

std::optional<std::string> LifetimeWarning(const RoleEntry& role, int64_t verification_ttl) {
  int64_t lifetime = std::max(role.ttl, role.max_ttl);
  if (lifetime <= verification_ttl) return std::nullopt;
  return "ttl/max_ttl " + std::to_string(lifetime) + " exceeds the config verification_ttl " +
         std::to_string(verification_ttl) +
         ": credentials can outlive their signing key in the JWKS; lower it or raise verification_ttl";
}

Status ValidateRole(const RoleEntry& role, int64_t verification_ttl, int64_t tolerated_lifetime) {
  // Above verification_ttl only while repairing a role that already was, and never longer.
  const int64_t limit = std::max(verification_ttl, tolerated_lifetime);
  const std::string hint = tolerated_lifetime > verification_ttl
                               ? "; the stored role already exceeds it (" + std::to_string(tolerated_lifetime) +
                                     "): a write may keep or lower that, not raise it"
                               : "";
  if (role.task.empty()) return Status::InvalidArgument("task: is required and must not be empty");
  if (role.binding != kBindingNone && role.binding != kBindingDpop) {
    return Status::InvalidArgument("binding: must be none or dpop (got \"" + role.binding + "\")");
  }
  if (role.task.size() > 256) return Status::InvalidArgument("task: must be at most 256 characters");
  for (char c : role.task) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("task: must not contain control characters");
    }
  }
  if (role.description.size() > 4096) {
    return Status::InvalidArgument("description: must be at most 4096 characters");
  }
  TC_RETURN_IF_ERROR(ValidateParameterDeclarations(role.parameters));
  if (role.grants.empty()) return Status::InvalidArgument("grants: at least one grant is required");
  if (role.grants.size() > grants::kMaxGrants) {
    return Status::InvalidArgument("grants: at most " + std::to_string(grants::kMaxGrants) + " grants");
  }
  for (size_t i = 0; i < role.grants.size(); ++i) {
    std::string field = "grants[" + std::to_string(i) + "]";
    Status s = grants::ValidateGrantTemplate(role.grants[i]);
    if (!s.ok()) return Status::InvalidArgument(field + ": " + s.message());
    auto parts = ParseTemplate(field, role.grants[i].resource, role.parameters);
    if (!parts.ok()) return parts.status();
  }
  if (role.ttl < 0) return Status::InvalidArgument("ttl: must not be negative");
  if (role.max_ttl < 0) return Status::InvalidArgument("max_ttl: must not be negative");
  if (role.max_ttl > 0 && role.ttl > role.max_ttl) {
    return Status::InvalidArgument("ttl: must not be greater than max_ttl (" + std::to_string(role.ttl) +
                                   " > " + std::to_string(role.max_ttl) + ")");
  }
  if (role.max_ttl > limit) {
    return Status::InvalidArgument("max_ttl: must not exceed the config verification_ttl (" +
                                   std::to_string(role.max_ttl) + " > " + std::to_string(verification_ttl) +
                                   ")" + (hint.empty() ? "; raise verification_ttl first" : hint));
  }
  if (role.ttl > limit) {
    return Status::InvalidArgument("ttl: must not exceed the config verification_ttl (" +
                                   std::to_string(role.ttl) + " > " + std::to_string(verification_ttl) + ")" +
                                   hint);
  }
  if (role.credential_type != kCredentialTypeJwt && role.credential_type != kCredentialTypeOpaque) {
    return Status::InvalidArgument("credential_type: must be \"jwt\" or \"opaque\" (got \"" +
                                   role.credential_type + "\")");
  }
  if (role.renewable && role.credential_type == kCredentialTypeJwt) {
    return Status::InvalidArgument(
        "renewable: a jwt credential cannot be renewed (its exp cannot move); use credential_type=opaque");
  }
  if (role.max_uses < 0) return Status::InvalidArgument("max_uses: must not be negative");
  if (role.max_delegation_depth < 0 || role.max_delegation_depth > kMaxDelegationDepth) {
    return Status::InvalidArgument("max_delegation_depth: must be between 0 and " +
                                   std::to_string(kMaxDelegationDepth));
  }
  if (role.max_live_tasks < 0 || role.max_live_tasks > kMaxLiveTasksLimit) {
    return Status::InvalidArgument("max_live_tasks: must be between 0 (unlimited) and " +
                                   std::to_string(kMaxLiveTasksLimit));
  }
  if (role.heartbeat_ttl < 0) return Status::InvalidArgument("heartbeat_ttl: must not be negative");
  TC_RETURN_IF_ERROR(ValidateAudienceList(kFieldAudience, role.audience));
  return Status::Ok();
}

Result<std::optional<RoleEntry>> RoleStore::Get(logical::Storage& storage, std::string_view name) {
  uint64_t generation;
  {
    std::shared_lock lock(mu_);
    if (auto it = cache_.find(name); it != cache_.end()) return std::optional<RoleEntry>(it->second);
    generation = generation_;
  }
  TC_ASSIGN_OR_RETURN(std::optional<logical::StorageEntry> entry,
                      storage.Get(std::string(kRolePrefix) + std::string(name)));
  if (!entry) return std::optional<RoleEntry>();
  TC_ASSIGN_OR_RETURN(nlohmann::json j, ParseStoredJson(entry->value, "role"));
  TC_ASSIGN_OR_RETURN(RoleEntry role, RoleEntry::FromJson(j));
  std::unique_lock lock(mu_);
  if (generation == generation_) cache_.insert_or_assign(std::string(name), role);
  return std::optional<RoleEntry>(std::move(role));
}

Status RoleStore::Put(logical::Storage& storage, std::string_view name, const RoleEntry& role) {
  Status s = storage.Put({std::string(kRolePrefix) + std::string(name), DumpJson(role.ToJson()), false});
  Invalidate(name);
  return s;
}

Status RoleStore::Delete(logical::Storage& storage, std::string_view name) {
  Status s = storage.Delete(std::string(kRolePrefix) + std::string(name));
  Invalidate(name);
  return s;
}

Result<std::vector<std::string>> RoleStore::List(logical::Storage& storage) {
  return storage.List(kRolePrefix);
}

Result<std::pair<int64_t, std::string>> RoleStore::LongestLifetime(logical::Storage& storage) {
  TC_ASSIGN_OR_RETURN(std::vector<std::string> names, List(storage));
  std::pair<int64_t, std::string> longest{0, ""};
  for (const auto& name : names) {
    if (name.empty() || name.back() == '/') continue;
    TC_ASSIGN_OR_RETURN(std::optional<RoleEntry> role, Get(storage, name));
    if (!role) continue;
    int64_t lifetime = std::max(role->ttl, role->max_ttl);
    if (lifetime > longest.first) longest = {lifetime, name};
  }
  return longest;
}

void RoleStore::Invalidate(std::string_view name) {
  std::unique_lock lock(mu_);
  if (name.empty()) {
    cache_.clear();
  } else if (auto it = cache_.find(name); it != cache_.end()) {
    cache_.erase(it);
  }
  ++generation_;
}

}  // namespace taskcred::engine
