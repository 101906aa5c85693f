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

Result<std::optional<Introspector::Claim>> Introspector::Verify(logical::Storage& storage, std::string_view token,
                                                                std::optional<ConfigEntry>& loaded) {
  const std::optional<Claim> none;
  if (token.empty() || token.size() > crypto::kMaxJwtBytes) return none;
  int64_t now = UnixSeconds(clock_());
  if (auto opaque_id = OpaqueTaskId(token)) {
    return std::optional<Claim>(Claim{*opaque_id, std::string(kCredentialTypeOpaque), crypto::Sha256Hex(token), {}});
  }
  // A JWT this node verified before: no decoding, no signature check.
  std::string fingerprint = crypto::Sha256(token);
  if (std::optional<Verdict> v = verdicts_.Get(fingerprint)) {
    if (now >= v->exp) return none;  // expiry is for good
    TC_ASSIGN_OR_RETURN(loaded, config_.Get(storage));
    const ConfigEntry& config = *loaded;
    if (v->issuer == config.issuer && (!v->nbf || now >= *v->nbf)) {
      TC_ASSIGN_OR_RETURN(bool published, keys_.Publishes(storage, config, v->claim.kid));
      if (published) return std::optional<Claim>(std::move(v->claim));
    }
    verdicts_.Erase(fingerprint);  // and decide afresh below
  }
  auto decoded = crypto::DecodeJwt(token);
  if (!decoded.ok()) return none;
  if (!loaded) {
    TC_ASSIGN_OR_RETURN(loaded, config_.Get(storage));
  }
  const ConfigEntry& config = *loaded;
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
  auto kid = decoded->header.find("kid");
  if (kid == decoded->header.end() || !kid->is_string()) return none;
  Claim claim{std::move(jti), std::string(kCredentialTypeJwt), {}, kid->get<std::string>()};
  verdicts_.Put(std::move(fingerprint), Verdict{claim, *exp, nbf, config.issuer});
  return std::optional<Claim>(std::move(claim));
}

bool Introspector::Matches(const Claim& claim, const TaskRecord& record) {
  if (record.task_id != claim.task_id || record.credential_type != claim.credential_type) return false;
  if (claim.credential_type == kCredentialTypeOpaque) {
    return crypto::ConstantTimeEquals(record.token_hash, claim.token_hash);
  }
  return record.kid == claim.kid;
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
  if (!r.cnf_jkt.empty()) j["cnf"] = {{"jkt", r.cnf_jkt}};
  if (!r.ancestors.empty()) j["act"] = ActClaim(r.ancestors);
  return j;
}

bool Introspector::HolderProven(const TaskRecord& r, const IntrospectInput& in, int64_t now) {
  if (r.cnf_jkt.empty()) return true;
  dpop::Expectation e{.method = in.method, .url = in.url, .access_token = in.token, .jkt = r.cnf_jkt, .now = now};
  auto proof = dpop::CheckProof(in.dpop_proof, e);
  if (!proof.ok()) return false;
  // Remembered until the proof's iat leaves the window: then it fails anyway.
  return replays_.Accept(r.cnf_jkt, proof->jti, proof->iat + e.iat_window + 1, now);
}

Result<nlohmann::json> Introspector::Introspect(logical::Storage& storage, const IntrospectInput& in) {
  std::optional<ConfigEntry> loaded;
  TC_ASSIGN_OR_RETURN(std::optional<Claim> claim, Verify(storage, in.token, loaded));
  if (!claim) return Inactive();
  if (!loaded) {  // opaque tokens
    TC_ASSIGN_OR_RETURN(loaded, config_.Get(storage));
  }
  const ConfigEntry& config = *loaded;
  int64_t now = UnixSeconds(clock_());
  const bool check = in.resource.has_value() && in.action.has_value();
  nlohmann::json answer = Inactive();
  auto evaluate = [&](std::optional<TaskRecord>& record) -> Result<bool> {
    if (!record || !Matches(*claim, *record) || !record->IsActive(now)) return false;
    if (!record->ancestors.empty()) {
      // Under this task's lock: the ancestors are peeked at, never locked
      // (their stripe may be this one).
      TC_ASSIGN_OR_RETURN(bool chain, AncestorsActive(storage, *record, now, /*peek=*/true));
      if (!chain) return false;
    }
    if (!HolderProven(*record, in, now)) return false;
    std::optional<bool> allowed;
    if (check) allowed = grants::Allows(record->grants, *in.resource, *in.action);
    bool spend = in.consume && allowed.value_or(true);
    if (spend) ++record->uses;
    answer = ActiveAnswer(*record, config);
    if (allowed) answer["allowed"] = *allowed;
    return spend;
  };
  if (in.consume) {
    // Spending reads the record once, under the task's lock, and checks the
    // token against that copy: one Get and (when a use is spent) one Put.
    TC_RETURN_IF_ERROR(tasks_.Mutate(storage, claim->task_id, evaluate));
  } else {
    // A known task is answered from the cache: no storage call.
    TC_ASSIGN_OR_RETURN(TaskStore::RecordPtr shared, tasks_.GetShared(storage, claim->task_id));
    if (!shared || !Matches(*claim, *shared) || !shared->IsActive(now)) return Inactive();
    if (!HolderProven(*shared, in, now)) return Inactive();
    if (!shared->ancestors.empty()) {
      TC_ASSIGN_OR_RETURN(bool chain, AncestorsActive(storage, *shared, now));
      if (!chain) return Inactive();
    }
    answer = ActiveAnswer(*shared, config);
    if (check) answer["allowed"] = grants::Allows(shared->grants, *in.resource, *in.action);
  }
  return answer;
}

Result<bool> Introspector::AncestorsActive(logical::Storage& storage, const TaskRecord& record, int64_t now,
                                           bool peek) {
  for (const std::string& id : record.ancestors) {
    TC_ASSIGN_OR_RETURN(TaskStore::RecordPtr ancestor, peek ? tasks_.Peek(storage, id) : tasks_.GetShared(storage, id));
    if (!ancestor || !ancestor->IsActive(now)) return false;
  }
  return true;
}

Result<TaskStore::RecordPtr> Introspector::Authenticate(logical::Storage& storage, const IntrospectInput& in) {
  std::optional<ConfigEntry> config;  // (not needed here)
  TC_ASSIGN_OR_RETURN(std::optional<Claim> claim, Verify(storage, in.token, config));
  if (!claim) return TaskStore::RecordPtr();
  TC_ASSIGN_OR_RETURN(TaskStore::RecordPtr record, tasks_.GetShared(storage, claim->task_id));
  int64_t now = UnixSeconds(clock_());
  if (!record || !Matches(*claim, *record) || !record->IsActive(now)) return TaskStore::RecordPtr();
  TC_ASSIGN_OR_RETURN(bool chain, AncestorsActive(storage, *record, now));
  if (!chain || !HolderProven(*record, in, now)) return TaskStore::RecordPtr();
  return record;
}

Result<bool> Introspector::Release(logical::Storage& storage, std::string_view token) {
  std::optional<ConfigEntry> config;  // (not needed here)
  TC_ASSIGN_OR_RETURN(std::optional<Claim> claim, Verify(storage, token, config));
  if (!claim) return false;
  bool authentic = false;
  TC_RETURN_IF_ERROR(tasks_.Mutate(storage, claim->task_id, [&](std::optional<TaskRecord>& record) -> Result<bool> {
    if (!record || !Matches(*claim, *record)) return false;
    authentic = true;
    if (record->released) return false;
    record->released = true;
    return true;
  }));
  return authentic;
}

}  // namespace taskcred::engine
