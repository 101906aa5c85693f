#include "engine/issuer.h"

#include <algorithm>
#include <utility>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/random.h"
#include "dpop/dpop.h"
#include "engine/field_names.h"
#include "engine/json_util.h"
#include "engine/status_publisher.h"
#include "engine/template.h"
#include "framework/lease.h"

namespace taskcred::engine {

using common::Result;
using common::Status;

nlohmann::json Issued::ResponseData() const {
  nlohmann::json d = {{kFieldCredential, credential},    {kFieldCredentialType, record.credential_type},
                      {kFieldTask, record.task},         {kFieldTaskId, record.task_id},
                      {kFieldRole, record.role},         {kFieldGrants, grants::GrantsToJson(record.grants)},
                      {kFieldAudience, record.audience}, {kFieldExpiresAt, Rfc3339(record.expires_at)},
                      {kFieldMaxUses, record.max_uses}};
  if (!record.instance.empty()) d[kFieldInstance] = record.instance;
  if (!record.cnf_jkt.empty()) d[kFieldCnf] = {{"jkt", record.cnf_jkt}};
  if (!record.ancestors.empty()) {
    d["parent"] = record.ancestors.front();
    d["depth"] = record.Depth();
  }
  if (record.heartbeat_ttl > 0) d[kFieldHeartbeatTtl] = record.heartbeat_ttl;
  return d;
}

nlohmann::json Issued::PreviewData() const {
  nlohmann::json d = {{kFieldRole, record.role},
                      {kFieldTask, record.task},
                      {kFieldCredentialType, record.credential_type},
                      {kFieldGrants, grants::GrantsToJson(record.grants)},
                      {"claims", claims},
                      {kFieldTtl, ttl},
                      {kFieldMaxTtl, max_ttl},
                      {kFieldRenewable, renewable},
                      {kFieldAudience, record.audience},
                      {kFieldMaxUses, record.max_uses}};
  if (!record.instance.empty()) d[kFieldInstance] = record.instance;
  if (!record.ancestors.empty()) {
    d["parent"] = record.ancestors.front();
    d["depth"] = record.Depth();
  }
  return d;
}

Status ValidateInstance(std::string_view instance) {
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  };
  bool ok = !instance.empty() && instance.size() <= 128 && instance != "." &&
            instance.find("..") == std::string_view::npos;
  for (char c : instance) ok = ok && allowed(c);
  if (ok) return Status::Ok();
  return Status::InvalidArgument(
      "instance: must be 1 to 128 characters from [a-zA-Z0-9._-], not \".\" and without \"..\"");
}

Result<Issued> Issuer::Prepare(logical::Storage& storage, logical::SystemView& system_view,
                               const IssueInput& input) {
  // Everything a caller sends is checked here, once, for creds and preview
  // alike: a dry run refuses exactly what the real run refuses.
  TC_RETURN_IF_ERROR(ValidateRoleName(input.role_name).WithContext("role"));
  if (input.instance) {
    TC_RETURN_IF_ERROR(ValidateInstance(*input.instance));
  }
  TC_ASSIGN_OR_RETURN(std::optional<RoleEntry> role, roles_.Get(storage, input.role_name));
  if (!role) return Status::InvalidArgument("role: unknown role \"" + input.role_name + "\"");
  TC_ASSIGN_OR_RETURN(ConfigEntry config, config_.Get(storage));
  TC_ASSIGN_OR_RETURN(auto values, CheckParameterValues(role->parameters, input.parameters));
  if (input.dpop_jkt && !dpop::IsValidThumbprint(*input.dpop_jkt)) {
    return Status::InvalidArgument(
        "dpop_jkt: must be the RFC 7638 SHA-256 thumbprint of the holder's public JWK (43 characters of base64url)");
  }
  if (!input.dpop_jkt && role->binding == kBindingDpop) {
    return Status::InvalidArgument("dpop_jkt: required: role \"" + input.role_name +
                                   "\" binds its credentials to the holder's key (binding=dpop)");
  }

  TimePoint now_tp = clock_();
  int64_t now = UnixSeconds(now_tp);

  // TTL: role ttl (or mount default), capped by role max_ttl, mount max and,
  // for JWTs, verification_ttl.
  bool is_jwt = role->credential_type == kCredentialTypeJwt;
  framework::TTLInputs ttl_in;
  ttl_in.backend_ttl = std::chrono::seconds(role->ttl);
  ttl_in.backend_max_ttl = std::chrono::seconds(role->max_ttl);
  ttl_in.explicit_max_ttl = is_jwt ? std::chrono::seconds(config.verification_ttl) : std::chrono::seconds(0);
  ttl_in.start_time = now_tp;
  ttl_in.now = now_tp;
  // The mount's tuning, asked per issuance: the same values bound both the
  // TTL and the max_ttl reported with the lease. Not cached: a cache would
  // serve a stale TTL after `vault secrets tune`, which the plugin is not
  // told about, and a JWT's exp must never pass the lease Vault records.
  // The mount's default lease TTL only matters to a role without a ttl, so
  // a role with one asks the mount max alone (one brokered call, not two).
  logical::MountLeaseTTLs mount;
  if (role->ttl > 0) {
    TC_ASSIGN_OR_RETURN(mount.max_ttl, system_view.MaxLeaseTTL());
  } else {
    TC_ASSIGN_OR_RETURN(mount, system_view.LeaseTTLs());
  }
  ttl_in.mount_default_ttl = mount.default_ttl;
  ttl_in.mount_max_ttl = mount.max_ttl;
  TC_ASSIGN_OR_RETURN(framework::TTLResult ttl_out, framework::CalculateTTL(ttl_in));
  int64_t max_ttl = mount.max_ttl.count();
  if (role->max_ttl > 0 && (max_ttl <= 0 || role->max_ttl < max_ttl)) max_ttl = role->max_ttl;
  if (is_jwt && (max_ttl <= 0 || config.verification_ttl < max_ttl)) max_ttl = config.verification_ttl;
  int64_t ttl = std::chrono::duration_cast<std::chrono::seconds>(ttl_out.ttl).count();
  if (max_ttl > 0) ttl = std::min(ttl, max_ttl);
  if (ttl <= 0) return Status::Internal("computed credential TTL is not positive");

  RenderContext ctx;
  ctx.role = input.role_name;
  ctx.task = role->task;
  // The id names the record's storage hour, so it follows the TTL
  // (TaskStore::Create; docs/engine.md, "Storage layout").
  int64_t expires_at = now + ttl;
  int64_t max_ttl_at = now + (max_ttl > 0 ? max_ttl : ttl);
  ctx.task_id = NewTaskId(role->renewable ? std::max(expires_at, max_ttl_at) : expires_at);
  ctx.instance = input.instance;
  ctx.entity_id = input.entity_id;
  ctx.values = std::move(values);
  ctx.regexes = role->parameters;
  if (!input.entity_id.empty() && NeedsEntityInfo(role->grants)) {
    TC_ASSIGN_OR_RETURN(ctx.entity, system_view.EntityInfo(input.entity_id));
  }
  TC_ASSIGN_OR_RETURN(std::vector<grants::Grant> rendered, RenderGrants(role->grants, ctx));

  Issued out;
  out.warnings = ttl_out.warnings;
  out.ttl = ttl;
  out.max_ttl = max_ttl;
  out.renewable = role->renewable;
  TaskRecord& r = out.record;
  r.task_id = ctx.task_id;
  r.role = input.role_name;
  r.task = role->task;
  r.instance = input.instance.value_or("");
  r.grants = std::move(rendered);
  r.audience = role->audience.empty() ? config.default_audience : role->audience;
  r.entity_id = input.entity_id;
  if (!role->bind_entity) {
    r.sub = "task:" + r.task_id;
  } else if (!input.entity_id.empty()) {
    r.sub = input.entity_id;
  } else {
    r.sub = "accessor:" + input.client_token_accessor;
  }
  r.credential_type = role->credential_type;
  r.issued_at = now;
  r.expires_at = expires_at;
  r.max_ttl_at = max_ttl_at;
  r.ttl = ttl;
  r.renewable = role->renewable;
  r.max_uses = role->max_uses;
  r.cnf_jkt = input.dpop_jkt.value_or("");

  if (role->heartbeat_ttl > 0) {
    r.heartbeat_ttl = role->heartbeat_ttl;
    r.heartbeat_at = now;
  }
  r.tracked = role->Tracked();
  r.delegable = role->max_delegation_depth > 0;
  out.limits = {role->max_live_tasks, role->unique_instance};
  out.claims = CredentialClaims(config.issuer, r);
  return out;
}

nlohmann::json ActClaim(const std::vector<std::string>& ancestors) {
  nlohmann::json act;  // null
  for (auto it = ancestors.rbegin(); it != ancestors.rend(); ++it) {
    nlohmann::json outer = {{"sub", *it}};
    if (!act.is_null()) outer["act"] = std::move(act);
    act = std::move(outer);
  }
  return act;
}

nlohmann::json CredentialClaims(const std::string& issuer, const TaskRecord& r) {
  nlohmann::json claims = {
      {"iss", issuer},      {"sub", r.sub},        {"iat", r.issued_at},
      {"nbf", r.issued_at}, {"exp", r.expires_at}, {"jti", r.task_id},
      {"task", r.task},     {"role", r.role},      {"grants", grants::GrantsToJson(r.grants)}};
  if (!r.audience.empty()) claims["aud"] = r.audience;
  if (r.max_uses > 0) claims["max_uses"] = r.max_uses;
  if (!r.instance.empty()) claims["instance"] = r.instance;
  if (!r.cnf_jkt.empty()) claims["cnf"] = {{"jkt", r.cnf_jkt}};
  if (!r.ancestors.empty()) claims["act"] = ActClaim(r.ancestors);
  return claims;
}

Result<Issued> Issuer::Issue(logical::Storage& storage, logical::SystemView& system_view,
                             const IssueInput& input) {
  TC_ASSIGN_OR_RETURN(Issued out, Prepare(storage, system_view, input));
  // A place among the role's live tasks is taken before anything is signed.
  if (out.record.tracked) TC_RETURN_IF_ERROR(live_.Admit(storage, out.limits, out.record));
  Status issued = [&]() -> Status {
    TC_ASSIGN_OR_RETURN(ConfigEntry config, config_.Get(storage));
    TC_RETURN_IF_ERROR(Mint(storage, config, out));
    return Record(storage, out, "credential issued");
  }();
  if (!issued.ok()) {
    if (out.record.tracked) live_.Abandon(storage, out.record);
    return issued;
  }
  return out;
}

Status Issuer::Mint(logical::Storage& storage, const ConfigEntry& config, Issued& out) {
  TaskRecord& r = out.record;
  if (r.credential_type == kCredentialTypeJwt) {
    TC_ASSIGN_OR_RETURN(ActiveKey key, keys_.ActiveSigningKey(storage, config));
    if (config.status_list) {
      // A slot whose credential is never issued (a later failure) stays
      // taken and unused: never handed out twice.
      TC_ASSIGN_OR_RETURN(StatusSlot slot, status_.Allocate(storage, r.Horizon()));
      out.claims["status"] = {
          {"status_list", {{"idx", slot.idx}, {"uri", StatusListUri(config.issuer, slot.list_id)}}}};
      r.status_list = std::move(slot.list_id);
      r.status_idx = slot.idx;
    }
    TC_ASSIGN_OR_RETURN(out.credential, crypto::SignJwt(key.key, key.kid, out.claims));
    r.kid = key.kid;
  } else {
    out.credential = std::string(kOpaquePrefix) + r.task_id + "_" + crypto::RandomToken(32);
    r.token_hash = crypto::Sha256Hex(out.credential);
  }
  return Status::Ok();
}

Status Issuer::Record(logical::Storage& storage, const Issued& out, std::string_view what) {
  const TaskRecord& r = out.record;
  // Logged before the record is written: a process killed between the write
  // and the answer still leaves a line naming the task (an unconfirmed task,
  // TaskRecord::Confirmed).
  common::LogFields fields = {{"task_id", r.task_id},
                              {"role", r.role},
                              {"entity", r.entity_id.empty() ? r.sub : r.entity_id},
                              {"credential_type", r.credential_type},
                              {"grants_hash", grants::GrantsHash(r.grants)},
                              {"expires_at", Rfc3339(r.expires_at)}};
  if (!r.ancestors.empty()) fields.emplace_back("parent", r.ancestors.front());
  logger_.Info(what, fields);
  if (Status created = tasks_.Create(storage, r); !created.ok()) {
    logger_.Warn("issuance failed: its record was not written, no credential was returned",
                 {{"task_id", r.task_id}, {"error", created.message()}});
    return created;
  }
  return Status::Ok();
}

}  // namespace taskcred::engine
