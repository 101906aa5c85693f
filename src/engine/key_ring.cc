#include "engine/key_ring.h"

#include <algorithm>
#include <utility>

#include "engine/json_util.h"
#include "engine/storage_keys.h"

namespace taskcred::engine {

using common::Result;
using common::Status;

nlohmann::json RingState::ToJson() const {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& k : keys) {
    arr.push_back({{"kid", k.kid},
                   {"alg", k.alg},
                   {"private_pem", k.private_pem},
                   {"created_at", k.created_at},
                   {"activated_at", k.activated_at},
                   {"retired_at", k.retired_at},
                   {"expires_at", k.expires_at},
                   {"max_token_ttl", k.max_token_ttl}});
  }
  return {{"keys", arr}};
}

Result<RingState> RingState::FromJson(const nlohmann::json& j) {
  RingState s;
  auto it = j.find("keys");
  if (!j.is_object() || it == j.end() || !it->is_array())
    return Status::Internal("stored key ring is malformed");
  for (const auto& e : *it) {
    if (!e.is_object()) return Status::Internal("stored key ring entry is malformed");
    KeyRecord k;
    TC_RETURN_IF_ERROR(ReadMember(e, "kid", k.kid));
    TC_RETURN_IF_ERROR(ReadMember(e, "alg", k.alg));
    TC_RETURN_IF_ERROR(ReadMember(e, "private_pem", k.private_pem));
    TC_RETURN_IF_ERROR(ReadMember(e, "created_at", k.created_at));
    TC_RETURN_IF_ERROR(ReadMember(e, "activated_at", k.activated_at));
    TC_RETURN_IF_ERROR(ReadMember(e, "retired_at", k.retired_at));
    TC_RETURN_IF_ERROR(ReadMember(e, "expires_at", k.expires_at));
    TC_RETURN_IF_ERROR(ReadMember(e, "max_token_ttl", k.max_token_ttl));
    s.keys.push_back(std::move(k));
  }
  return s;
}

const KeyRecord* RingState::Active() const {
  for (const auto& k : keys) {
    if (k.is_active()) return &k;
  }
  return nullptr;
}

const KeyRecord* RingState::Next() const {
  for (const auto& k : keys) {
    if (k.is_next()) return &k;
  }
  return nullptr;
}

Result<KeyRecord> KeyRing::NewKey(std::string_view alg, int64_t now) {
  TC_ASSIGN_OR_RETURN(crypto::Algorithm a, crypto::ParseAlgorithm(alg));
  TC_ASSIGN_OR_RETURN(crypto::SigningKey key, crypto::SigningKey::Generate(a));
  KeyRecord k;
  k.kid = key.Thumbprint();
  k.alg = std::string(alg);
  k.private_pem = key.PrivatePem();
  k.created_at = now;
  return k;
}

Status KeyRing::Store(logical::Storage& storage, const RingState& state) {
  Status s = storage.Put({std::string(kKeyRingKey), DumpJson(state.ToJson()), true});
  Invalidate();
  return s;
}

Result<std::optional<RingState>> KeyRing::Load(logical::Storage& storage) {
  TC_ASSIGN_OR_RETURN(std::optional<logical::StorageEntry> entry, storage.Get(kKeyRingKey));
  if (!entry) return std::optional<RingState>();
  TC_ASSIGN_OR_RETURN(nlohmann::json j, ParseStoredJson(entry->value, "key ring"));
  TC_ASSIGN_OR_RETURN(RingState state, RingState::FromJson(j));
  return std::optional<RingState>(std::move(state));
}

Result<std::shared_ptr<const KeyRing::Loaded>> KeyRing::GetLoaded(logical::Storage& storage,
                                                                  const ConfigEntry& config, bool create) {
  uint64_t generation;
  {
    std::shared_lock lock(mu_);
    if (cached_) return cached_;
    generation = generation_;
  }
  TC_ASSIGN_OR_RETURN(std::optional<RingState> state, Load(storage));
  if (!state || !state->Active()) {
    if (!create) return std::shared_ptr<const Loaded>();
    std::lock_guard write(write_mu_);
    TC_ASSIGN_OR_RETURN(state, Load(storage));  // another request may have created it meanwhile
    if (!state || !state->Active()) {
      int64_t now = UnixSeconds(clock_());
      RingState fresh = state.value_or(RingState{});
      RingChange change;
      TC_ASSIGN_OR_RETURN(KeyRecord next, NewKey(config.signing_algorithm, now));
      if (!fresh.Next()) {
        TC_ASSIGN_OR_RETURN(KeyRecord first_next, NewKey(config.signing_algorithm, now));
        fresh.keys.push_back(std::move(first_next));
      }
      DoRotate(fresh, config, now, next, change);
      TC_RETURN_IF_ERROR(Store(storage, fresh));
      state = std::move(fresh);
    }
    std::shared_lock lock(mu_);
    generation = generation_;
  }
  auto loaded = std::make_shared<Loaded>();
  loaded->state = std::move(*state);
  for (const auto& k : loaded->state.keys) {
    TC_ASSIGN_OR_RETURN(crypto::Algorithm alg, crypto::ParseAlgorithm(k.alg));
    auto key = crypto::SigningKey::FromPrivatePem(alg, k.private_pem);
    if (!key.ok()) return Status::Internal("stored signing key " + k.kid + " cannot be loaded");
    loaded->public_jwks.emplace(k.kid, key->PublicJwk(k.kid));
    loaded->verifiers.emplace(k.kid, key->public_key());
    if (k.is_active()) loaded->signers.emplace(k.kid, std::move(key).value());
  }
  std::unique_lock lock(mu_);
  if (generation == generation_) cached_ = loaded;
  return std::shared_ptr<const Loaded>(loaded);
}

Result<ActiveKey> KeyRing::ActiveSigningKey(logical::Storage& storage, const ConfigEntry& config) {
  TC_ASSIGN_OR_RETURN(std::shared_ptr<const Loaded> loaded, GetLoaded(storage, config, true));
  const KeyRecord* active = loaded->state.Active();
  if (!active) return Status::Internal("key ring has no active key");
  auto it = loaded->signers.find(active->kid);
  if (it == loaded->signers.end()) return Status::Internal("active signing key not loaded");
  return ActiveKey{active->kid, it->second};
}

Result<nlohmann::json> KeyRing::Jwks(logical::Storage& storage, const ConfigEntry& config) {
  TC_ASSIGN_OR_RETURN(std::shared_ptr<const Loaded> loaded, GetLoaded(storage, config, true));
  int64_t now = UnixSeconds(clock_());
  nlohmann::json keys = nlohmann::json::array();
  // Order: active first, then next, then retired (newest first).
  std::vector<const KeyRecord*> order;
  for (const auto& k : loaded->state.keys) {
    if (k.is_active()) order.insert(order.begin(), &k);
  }
  for (const auto& k : loaded->state.keys) {
    if (k.is_next()) order.push_back(&k);
  }
  std::vector<const KeyRecord*> retired;
  for (const auto& k : loaded->state.keys) {
    if (k.is_retired() && k.expires_at > now) retired.push_back(&k);
  }
  std::sort(retired.begin(), retired.end(),
            [](const KeyRecord* a, const KeyRecord* b) { return a->retired_at > b->retired_at; });
  order.insert(order.end(), retired.begin(), retired.end());
  for (const KeyRecord* k : order) {
    auto it = loaded->public_jwks.find(k->kid);
    if (it != loaded->public_jwks.end()) keys.push_back(it->second);
  }
  return nlohmann::json{{"keys", keys}};
}

const crypto::PublicKey* KeyRing::PublishedVerifier(const Loaded& loaded, std::string_view kid) const {
  const KeyRecord* record = nullptr;
  for (const auto& k : loaded.state.keys) {
    if (k.kid == kid) record = &k;
  }
  // Same visibility as Jwks(): a retired key past expires_at verifies nothing
  // even before Maintain() prunes it.
  if (record == nullptr || (record->is_retired() && record->expires_at <= UnixSeconds(clock_()))) return nullptr;
  auto it = loaded.verifiers.find(kid);
  return it == loaded.verifiers.end() ? nullptr : &it->second;
}

Status KeyRing::VerifyJwt(logical::Storage& storage, const ConfigEntry& config, const crypto::DecodedJwt& jwt) {
  TC_ASSIGN_OR_RETURN(crypto::JwtKeyId id, crypto::JwtKeyIdOf(jwt));
  TC_ASSIGN_OR_RETURN(std::shared_ptr<const Loaded> loaded, GetLoaded(storage, config, true));
  const crypto::PublicKey* verifier = PublishedVerifier(*loaded, id.kid);
  if (verifier == nullptr) return Status::PermissionDenied("jwt \"kid\" is not in the jwks");
  return crypto::VerifyJwtWithKey(jwt, id.alg, *verifier);
}

Result<bool> KeyRing::Publishes(logical::Storage& storage, const ConfigEntry& config, std::string_view kid) {
  TC_ASSIGN_OR_RETURN(std::shared_ptr<const Loaded> loaded, GetLoaded(storage, config, true));
  return PublishedVerifier(*loaded, kid) != nullptr;
}

void KeyRing::DoRotate(RingState& state, const ConfigEntry& config, int64_t now, const KeyRecord& fresh,
                       RingChange& change) {
  for (auto& k : state.keys) {
    if (k.is_active()) {
      k.retired_at = now;
      k.expires_at = now + std::max(k.max_token_ttl, config.verification_ttl);
    }
  }
  for (auto& k : state.keys) {
    if (k.is_next()) {
      k.activated_at = now;
      k.max_token_ttl = config.verification_ttl;
      change.active_kid = k.kid;
      break;
    }
  }
  state.keys.push_back(fresh);
  change.next_kid = fresh.kid;
  change.rotated = true;
}

void KeyRing::Prune(RingState& state, int64_t now, RingChange& change) {
  auto it = std::remove_if(state.keys.begin(), state.keys.end(), [&](const KeyRecord& k) {
    bool gone = k.is_retired() && k.expires_at <= now;
    if (gone) change.pruned_kids.push_back(k.kid);
    return gone;
  });
  state.keys.erase(it, state.keys.end());
}

Result<RingChange> KeyRing::Rotate(logical::Storage& storage, const ConfigEntry& config) {
  std::lock_guard write(write_mu_);
  int64_t now = UnixSeconds(clock_());
  TC_ASSIGN_OR_RETURN(std::optional<RingState> loaded, Load(storage));
  RingState state = loaded.value_or(RingState{});
  RingChange change;
  if (!state.Next()) {
    TC_ASSIGN_OR_RETURN(KeyRecord first_next, NewKey(config.signing_algorithm, now));
    state.keys.push_back(std::move(first_next));
  }
  TC_ASSIGN_OR_RETURN(KeyRecord fresh, NewKey(config.signing_algorithm, now));
  DoRotate(state, config, now, fresh, change);
  Prune(state, now, change);
  TC_RETURN_IF_ERROR(Store(storage, state));
  return change;
}

Status KeyRing::ApplyConfig(logical::Storage& storage, const ConfigEntry& config) {
  std::lock_guard write(write_mu_);
  TC_ASSIGN_OR_RETURN(std::optional<RingState> loaded, Load(storage));
  if (!loaded) return Status::Ok();
  int64_t now = UnixSeconds(clock_());
  bool changed = false;
  for (auto& k : loaded->keys) {
    if (k.is_next() && k.alg != config.signing_algorithm) {
      TC_ASSIGN_OR_RETURN(k, NewKey(config.signing_algorithm, now));
      changed = true;
    }
    if (k.is_active() && k.max_token_ttl < config.verification_ttl) {
      k.max_token_ttl = config.verification_ttl;
      changed = true;
    }
  }
  if (!changed) return Status::Ok();
  return Store(storage, *loaded);
}

Result<RingChange> KeyRing::Maintain(logical::Storage& storage, const ConfigEntry& config) {
  std::lock_guard write(write_mu_);
  RingChange change;
  TC_ASSIGN_OR_RETURN(std::optional<RingState> loaded, Load(storage));
  if (!loaded) return change;
  int64_t now = UnixSeconds(clock_());
  const KeyRecord* active = loaded->Active();
  if (config.rotation_period > 0 && active && now - active->activated_at >= config.rotation_period) {
    if (!loaded->Next()) {
      TC_ASSIGN_OR_RETURN(KeyRecord first_next, NewKey(config.signing_algorithm, now));
      loaded->keys.push_back(std::move(first_next));
    }
    TC_ASSIGN_OR_RETURN(KeyRecord fresh, NewKey(config.signing_algorithm, now));
    DoRotate(*loaded, config, now, fresh, change);
  }
  Prune(*loaded, now, change);
  if (!change.rotated && change.pruned_kids.empty()) return change;
  TC_RETURN_IF_ERROR(Store(storage, *loaded));
  return change;
}

void KeyRing::Invalidate() {
  std::unique_lock lock(mu_);
  cached_.reset();
  ++generation_;
}

}  // namespace taskcred::engine
