// KeyRing: the mount's JWT signing keys, stored as one entry at keys/ring.
//
// Lifecycle of a key (docs/engine.md, "Keys"):
//   next     created, published in the JWKS, signs nothing yet
//   active   signs every new JWT (exactly one active key)
//   retired  signs nothing; stays in the JWKS until expires_at =
//            retired_at + verification_ttl (the longest a JWT it signed can
//            live, since role lifetimes are capped by verification_ttl)
// Rotate(): next -> active, active -> retired, and a fresh next key of the
// configured algorithm. So every key except the very first is published at
// least one rotation period before it signs. The ring is created on first
// need (issuance, JWKS read, rotate) with an active and a next key.
// Changing signing_algorithm replaces the unused next key at once
// (ApplyConfig) and so takes effect at the following rotation.
// Each active key remembers the largest verification_ttl in force while it
// signed (max_token_ttl); retirement keeps it in the JWKS for at least that
// long, so lowering verification_ttl never cuts a live JWT's key short.
// kid = RFC 7638 thumbprint of the public key.
//
// Safe for concurrent use. Reads come from an in-memory copy dropped by
// Invalidate() (InvalidateKey("keys/ring")); writes are serialized by a
// per-process mutex (one active node writes in Vault).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "crypto/jwt.h"
#include "crypto/signing_key.h"
#include "engine/clock.h"
#include "engine/config.h"
#include "fiber/mutex.h"
#include "logical/storage.h"

namespace taskcred::engine {

struct KeyRecord {
  std::string kid;
  std::string alg;
  std::string private_pem;  // secret: storage only
  int64_t created_at = 0;
  int64_t activated_at = 0;   // 0 = not yet signing (the next key)
  int64_t retired_at = 0;     // 0 = not retired
  int64_t expires_at = 0;     // retired keys: leaves the JWKS at this time
  int64_t max_token_ttl = 0;  // largest verification_ttl while active (caps its JWTs' lifetimes)

  bool is_next() const { return activated_at == 0; }
  bool is_active() const { return activated_at != 0 && retired_at == 0; }
  bool is_retired() const { return retired_at != 0; }
};

struct RingState {
  std::vector<KeyRecord> keys;

  nlohmann::json ToJson() const;
  static common::Result<RingState> FromJson(const nlohmann::json& j);
  const KeyRecord* Active() const;
  const KeyRecord* Next() const;
};

struct ActiveKey {
  std::string kid;
  crypto::SigningKey key;
};

struct RingChange {
  bool rotated = false;
  std::string active_kid;
  std::string next_kid;
  std::vector<std::string> pruned_kids;
};

class KeyRing {
 public:
  explicit KeyRing(Clock clock) : clock_(std::move(clock)) {}

  // The key that signs new JWTs; creates the ring if there is none.
  common::Result<ActiveKey> ActiveSigningKey(logical::Storage& storage, const ConfigEntry& config);
  // {"keys":[...]}: next, active and retired keys not past expires_at (public
  // members only). Creates the ring if there is none.
  common::Result<nlohmann::json> Jwks(logical::Storage& storage, const ConfigEntry& config);
  // Verifies `jwt`'s signature with the ring key named by its header "kid",
  // with the same rules as crypto::VerifyJwtSignature against Jwks(): the
  // kid must be a key Jwks() publishes now (next, active, or retired and not
  // past expires_at) and header "alg" must be exactly that key's algorithm.
  // Uses the public keys parsed once per loaded ring (the ring's own keys
  // need no foreign-JWK validation, which costs ~3 ms for RSA); a rotation,
  // retirement, prune or Invalidate() drops them with the rest of the cache.
  // kPermissionDenied for every refusal; creates the ring if there is none.
  common::Status VerifyJwt(logical::Storage& storage, const ConfigEntry& config, const crypto::DecodedJwt& jwt);
  // Whether `kid` is a key Jwks() publishes now (what VerifyJwt requires of
  // it): a signature verified earlier with it still counts.
  common::Result<bool> Publishes(logical::Storage& storage, const ConfigEntry& config, std::string_view kid);
  // Rotates now (creating the ring instead if there is none) and prunes
  // retired keys past their expiry.
  common::Result<RingChange> Rotate(logical::Storage& storage, const ConfigEntry& config);
  // After a config write: replaces the next key if its algorithm differs
  // from config's, and raises the active key's max_token_ttl to
  // config.verification_ttl. No-op without a ring.
  common::Status ApplyConfig(logical::Storage& storage, const ConfigEntry& config);
  // Periodic work: rotate when now - activated_at >= rotation_period (> 0),
  // prune retired keys past expires_at. No-op without a ring.
  common::Result<RingChange> Maintain(logical::Storage& storage, const ConfigEntry& config);

  // The stored ring as it is now (no creation); std::nullopt if none.
  common::Result<std::optional<RingState>> Load(logical::Storage& storage);

  void Invalidate();

 private:
  struct Loaded {
    RingState state;
    std::map<std::string, crypto::SigningKey, std::less<>> signers;  // active key only
    std::map<std::string, nlohmann::json, std::less<>> public_jwks;  // every key, by kid
    std::map<std::string, crypto::PublicKey, std::less<>> verifiers;  // every key, by kid
  };

  // The verifier of a published `kid`, or nullptr.
  const crypto::PublicKey* PublishedVerifier(const Loaded& loaded, std::string_view kid) const;
  common::Result<std::shared_ptr<const Loaded>> GetLoaded(logical::Storage& storage,
                                                          const ConfigEntry& config, bool create);
  common::Result<KeyRecord> NewKey(std::string_view alg, int64_t now);
  common::Status Store(logical::Storage& storage, const RingState& state);
  void DoRotate(RingState& state, const ConfigEntry& config, int64_t now, const KeyRecord& fresh,
                RingChange& change);
  static void Prune(RingState& state, int64_t now, RingChange& change);

  Clock clock_;
  // Serializes read-modify-write of keys/ring; held across storage I/O, so
  // fiber-aware (a waiting request suspends instead of blocking its thread).
  fiber::Mutex write_mu_;
  std::shared_mutex mu_;
  std::shared_ptr<const Loaded> cached_;  // guarded by mu_
  uint64_t generation_ = 0;               // guarded by mu_
};

}  // namespace taskcred::engine
