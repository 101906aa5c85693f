#include "engine/introspector.h"

#include <utility>

#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "engine/issuer.h"
#include "engine/role.h"

namespace taskcred::engine {

using common::Result;
using common::Status;

namespace {

nlohmann::json Inactive() { return {{"active", false}}; }

// Parses tcop_<task_id>_<secret>; std::nullopt if the shape is wrong.
std::optional<std::string> OpaqueTaskId(std::string_view token) {
  if (token.substr(0, kOpaquePrefix.size()) != kOpaquePrefix) return std::nullopt;
  std::string_view rest = token.substr(kOpaquePrefix.size());
  if (rest.size() < 38 || rest[36] != '_') return std::nullopt;
  std::string id(rest.substr(0, 36));
  if (!IsValidTaskId(id)) return std::nullopt;
  return id;
}

}  // namespace

Result<std::optional<TaskRecord>> Introspector::Authenticate(logical::Storage& storage,
                                                             std::string_view token) {
  const std::optional<TaskRecord> none;
  if (token.empty() || token.size() > crypto::kMaxJwtBytes) return none;
  int64_t now = UnixSeconds(clock_());
  if (auto opaque_id = OpaqueTaskId(token)) {
    TC_ASSIGN_OR_RETURN(std::optional<TaskRecord> record, tasks_.Get(storage, *opaque_id));
    if (!record || record->credential_type != kCredentialTypeOpaque) return none;
    if (!crypto::ConstantTimeEquals(record->token_hash, crypto::Sha256Hex(token))) return none;
    return record;
  }
  auto decoded = crypto::DecodeJwt(token);
  if (!decoded.ok()) return none;
  TC_ASSIGN_OR_RETURN(ConfigEntry config, config_.Get(storage));
  // A refused signature is an inactive token; a storage failure loading the
  // ring stays an error (Vault retries).
  Status verified = keys_.VerifyJwt(storage, config, *decoded);
  if (verified.kind() == common::ErrorKind::kPermissionDenied) return none;
  TC_RETURN_IF_ERROR(verified);
  const nlohmann::json& c = decoded->claims;
  auto str = [&](const char* k) -> std::string {
    auto it = c.find(k);
    return it != c.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* k) -> std::optional<int64_t> {
    auto it = c.find(k);
    if (it == c.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  if (str("iss") != config.issuer) return none;
  std::optional<int64_t> exp = num("exp");
  std::optional<int64_t> nbf = num("nbf");
  if (!exp || now >= *exp) return none;
  if (nbf && now < *nbf) return none;
  std::string jti = str("jti");
  if (!IsValidTaskId(jti)) return none;
  TC_ASSIGN_OR_RETURN(std::optional<TaskRecord> record, tasks_.Get(storage, jti));
  if (!record || record->credential_type != kCredentialTypeJwt) return none;
  auto kid = decoded->header.find("kid");
  if (kid == decoded->header.end() || !kid->is_string() || kid->get<std::string>() != record->kid)
    return none;
  return record;
}

nlohmann::json Introspector::ActiveAnswer(const TaskRecord& r, const ConfigEntry& config) const {
  nlohmann::json j = {{"active", true},
                      {"iss", config.issuer},
                      {"task", r.task},
                      {"task_id", r.task_id},
                      {"role", r.role},
                      {"grants", grants::GrantsToJson(r.grants)},
                      {"sub", r.sub},
                      {"aud", r.audience},
                      {"exp", r.expires_at},
                      {"iat", r.issued_at},
                      {"credential_type", r.credential_type}};
  if (r.max_uses > 0) j["uses_remaining"] = std::max<int64_t>(0, r.max_uses - r.uses);
  if (!r.instance.empty()) j["instance"] = r.instance;
  return j;
}

Result<nlohmann::json> Introspector::Introspect(logical::Storage& storage, const IntrospectInput& in) {
  TC_ASSIGN_OR_RETURN(std::optional<TaskRecord> authentic, Authenticate(storage, in.token));
  if (!authentic) return Inactive();
  TC_ASSIGN_OR_RETURN(ConfigEntry config, config_.Get(storage));
  int64_t now = UnixSeconds(clock_());
  const bool check = in.resource.has_value() && in.action.has_value();
  nlohmann::json answer = Inactive();
  auto evaluate = [&](std::optional<TaskRecord>& record) -> Result<bool> {
    if (!record || !record->IsActive(now)) return false;
    std::optional<bool> allowed;
    if (check) allowed = grants::Allows(record->grants, *in.resource, *in.action);
    bool spend = in.consume && allowed.value_or(true);
    if (spend) ++record->uses;
    answer = ActiveAnswer(*record, config);
    if (allowed) answer["allowed"] = *allowed;
    return spend;
  };
  if (in.consume) {
    // Spending re-reads the record under the task's lock: the copy read while
    // authenticating may already be stale.
    TC_RETURN_IF_ERROR(tasks_.Mutate(storage, authentic->task_id, evaluate));
  } else {
    TC_ASSIGN_OR_RETURN(bool unused, evaluate(authentic));
    (void)unused;
  }
  return answer;
}

Result<bool> Introspector::Release(logical::Storage& storage, std::string_view token) {
  TC_ASSIGN_OR_RETURN(std::optional<TaskRecord> authentic, Authenticate(storage, token));
  if (!authentic) return false;
  TC_RETURN_IF_ERROR(tasks_.Mutate(storage, authentic->task_id, [](std::optional<TaskRecord>& record) -> Result<bool> {
    if (!record || record->released) return false;
    record->released = true;
    return true;
  }));
  return true;
}

}  // namespace taskcred::engine
