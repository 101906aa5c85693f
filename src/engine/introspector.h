// Introspector: RFC 7662-style checks of a credential, use counting and
// release.
//
// A token is *authentic* when it is a JWT whose signature verifies against
// the mount's JWKS, whose iss is the configured issuer, whose exp/nbf hold
// and whose jti names a JWT task record signed by that kid; or an opaque
// token whose task record holds its SHA-256 (compared in constant time).
// It is *active* when also its record is not revoked, released, spent,
// lapsed (a missed heartbeat) or past expires_at, and, for a delegated task,
// every ancestor is active too. Every inactive case answers {"active": false} alone.
// Safe for concurrent use.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/status.h"
#include "engine/clock.h"
#include "engine/config.h"
#include "engine/key_ring.h"
#include "engine/lru_cache.h"
#include "engine/task_store.h"
#include "dpop/dpop.h"
#include "logical/storage.h"

namespace taskcred::engine {

struct IntrospectInput {
  std::string token;
  std::optional<std::string> resource;  // both or neither (checked by the path)
  std::optional<std::string> action;
  bool consume = false;
  // DPoP (RFC 9449): a credential bound to a key (cnf.jkt) is only active
  // with a proof of it for this request; ignored for unbound credentials.
  std::string dpop_proof;
  std::string method;  // of the request the proof was made for
  std::string url;     // of that request (query and fragment ignored)
};

class Introspector {
 public:
  // `verdict_cache_size`: JWTs whose verification is remembered (0: none).
  Introspector(ConfigStore& config, KeyRing& keys, TaskStore& tasks, Clock clock,
               size_t verdict_cache_size = kDefaultTaskCacheSize)
      : config_(config), keys_(keys), tasks_(tasks), clock_(std::move(clock)), verdicts_(verdict_cache_size) {}

  // {"active":false} or {"active":true, "iss","task","task_id","role","grants",
  // "sub","aud","exp","iat","credential_type", ["uses_remaining"], ["instance"],
  // ["allowed"], ["cnf"]}. With consume, spends one use atomically when the
  // answer is active and (if resource/action were given) allowed;
  // uses_remaining is then the count after spending. A bound credential
  // (cnf) is active only with a valid DPoP proof whose jti was not seen
  // before. Non-OK only on storage failure.
  common::Result<nlohmann::json> Introspect(logical::Storage& storage, const IntrospectInput& input);

  // Marks the task of an authentic token released (idempotent). Returns
  // whether the token was authentic; the path does not reveal it.
  common::Result<bool> Release(logical::Storage& storage, std::string_view token);

  // The record of `in.token` when Introspect would call it active: authentic,
  // active with every ancestor active, and proven by in.dpop_proof when
  // bound (a proof's jti is spent). nullptr otherwise. For delegate and
  // heartbeat, which act for the holder.
  common::Result<TaskStore::RecordPtr> Authenticate(logical::Storage& storage, const IntrospectInput& in);

  // True when every ancestor of `record` (a delegated task) is active at
  // `now`: a parent that ended takes its descendants with it. `peek`: read
  // them with TaskStore::Peek (no lock), as a caller holding a task's lock must.
  common::Result<bool> AncestorsActive(logical::Storage& storage, const TaskRecord& record, int64_t now,
                                       bool peek = false);

 private:
  // What a token claims before its task record is read: the task it names
  // and what that record must hold for the token to be authentic. Splitting
  // the check lets consume/release read the record once, under the task's
  // lock, instead of once to authenticate and again to update it.
  struct Claim {
    std::string task_id;
    std::string credential_type;
    std::string token_hash;  // opaque: SHA-256 hex of the token
    std::string kid;         // JWT: the header kid
  };
  // Everything that needs no task record: shape, signature, iss, exp/nbf.
  // `config` receives the config when verification loaded it (JWTs), so a
  // caller that needs it too does not load it a second time.
  common::Result<std::optional<Claim>> Verify(logical::Storage& storage, std::string_view token,
                                              std::optional<ConfigEntry>& config);
  static bool Matches(const Claim& claim, const TaskRecord& record);

  nlohmann::json ActiveAnswer(const TaskRecord& record, const ConfigEntry& config) const;
  // True for an unbound record; for a bound one, whether `in` carries a
  // valid proof of its key for this token (and the proof's jti is new).
  bool HolderProven(const TaskRecord& record, const IntrospectInput& in, int64_t now);

  // A JWT that passed Verify once. The verdict of its signature never
  // changes; what can is checked again on every use: the clock against
  // exp/nbf, the configured issuer, and whether its kid is still published.
  struct Verdict {
    Claim claim;
    int64_t exp = 0;
    std::optional<int64_t> nbf;
    std::string issuer;
  };

  ConfigStore& config_;
  KeyRing& keys_;
  TaskStore& tasks_;
  Clock clock_;
  LruCache<Verdict> verdicts_;  // by SHA-256 of the token
  dpop::ReplayCache replays_;   // jti of the DPoP proofs accepted
};

}  // namespace taskcred::engine
