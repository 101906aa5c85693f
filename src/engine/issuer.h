// Issuer: turns a role + a request into one credential (or a preview of it).
//
// Prepare() renders the grants, bounds the TTL and builds the claims without
// writing anything or signing; Issue() then mints the credential (a JWT
// signed by the active key, or an opaque random token of 256 bits of which
// only the SHA-256 is stored), writes the task record and logs the issuance
// (task_id, role, entity, grants hash, expiry; never the credential).
// TTL: the role ttl (else the mount default), capped by the role max_ttl,
// the mount max TTL and, for JWTs, the config verification_ttl (so a JWT
// never outlives its key's presence in the JWKS).
// Safe for concurrent use.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/log.h"
#include "common/status.h"
#include "engine/clock.h"
#include "engine/config.h"
#include "engine/key_ring.h"
#include "engine/live_tasks.h"
#include "engine/role.h"
#include "engine/status_store.h"
#include "engine/task_store.h"
#include "logical/storage.h"
#include "logical/system_view.h"

namespace taskcred::engine {

// Prefix of opaque tokens: tcop_<task_id>_<base64url of 32 random bytes>.
inline constexpr std::string_view kOpaquePrefix = "tcop_";

// The run instance (creds/<role>/<instance>, preview's "instance"): 1 to 128
// characters from [a-zA-Z0-9._-], not "." and without "..". 400 naming it.
common::Status ValidateInstance(std::string_view instance);

struct IssueInput {
  std::string role_name;
  std::optional<std::string> instance;  // when given: ValidateInstance
  nlohmann::json parameters = nlohmann::json::object();  // name -> value, as sent
  std::string entity_id;                                 // "" when the token has no entity
  std::string client_token_accessor;                     // used for sub when there is no entity
  std::optional<std::string> dpop_jkt;  // binds the credential to this key (cnf.jkt)
};

struct Issued {
  TaskRecord record;
  std::string credential;  // empty for a preview
  nlohmann::json claims;   // the JWT claims (also built for opaque credentials, for preview/introspection)
  int64_t ttl = 0;         // seconds
  int64_t max_ttl = 0;     // seconds
  bool renewable = false;
  LiveLimits limits;  // the role's, checked by Issue when record.tracked
  std::vector<std::string> warnings;

  // creds response data: credential, credential_type, task, task_id, role,
  // grants, audience, expires_at (RFC 3339), max_uses (+ instance, cnf).
  nlohmann::json ResponseData() const;
  // preview response data: grants, claims, ttl, max_ttl, audience, ...
  nlohmann::json PreviewData() const;
};

// The JWT claims of a credential for `r` (no "status": drawn at signing):
// iss, sub, iat, nbf, exp, jti, task, role, grants, [aud], [max_uses],
// [instance], [cnf], and for a delegated task "act" (ActClaim).
nlohmann::json CredentialClaims(const std::string& issuer, const TaskRecord& r);
// RFC 8693 "act" of a delegated task: {"sub": <parent>, "act": {"sub":
// <grandparent>, ...}}, the nearest actor outermost; null for a root task.
nlohmann::json ActClaim(const std::vector<std::string>& ancestors);

class Issuer {
 public:
  Issuer(ConfigStore& config, RoleStore& roles, KeyRing& keys, TaskStore& tasks, StatusStore& status,
         LiveTasks& live, Clock clock, common::Logger logger)
      : config_(config),
        roles_(roles),
        keys_(keys),
        tasks_(tasks),
        status_(status),
        live_(live),
        clock_(std::move(clock)),
        logger_(std::move(logger)) {}

  // Everything Issue would do except signing and writing (and drawing a
  // status list slot: a preview's claims have no "status"). InvalidArgument
  // for an unknown role or bad parameters/placeholders (naming the field).
  common::Result<Issued> Prepare(logical::Storage& storage, logical::SystemView& system_view,
                                 const IssueInput& input);
  // Prepare + admission (LiveTasks, for a role with max_live_tasks,
  // unique_instance or heartbeat_ttl) + mint + record + log. A JWT issued while config status_list is
  // on gets a status list slot and the claim
  // "status": {"status_list": {"idx": N, "uri": StatusListUri(...)}}.
  common::Result<Issued> Issue(logical::Storage& storage, logical::SystemView& system_view,
                               const IssueInput& input);

  // The two steps of Issue after Prepare, shared with delegation. Mint
  // signs the claims (a JWT, with a status list slot when config.status_list
  // is on) or draws an opaque token, filling out.credential and the record's
  // kid / token_hash / status slot. Record logs the issuance (`what`:
  // "credential issued", "credential delegated") and writes the record.
  common::Status Mint(logical::Storage& storage, const ConfigEntry& config, Issued& out);
  common::Status Record(logical::Storage& storage, const Issued& out, std::string_view what);

 private:
  ConfigStore& config_;
  RoleStore& roles_;
  KeyRing& keys_;
  TaskStore& tasks_;
  StatusStore& status_;
  LiveTasks& live_;
  Clock clock_;
  common::Logger logger_;
};

}  // namespace taskcred::engine
