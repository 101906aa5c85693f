// StatusPublisher: the signed Token Status Lists served at status/<list_id>
// (docs/status_list.md).
//
// A list is a JWT signed by the mount's active key: header typ
// "statuslist+jwt" and kid; claims sub (the list's URI), iat, exp, ttl
// (config status_list_ttl) and status_list {"bits":1,"lst":...}. A signed
// list is kept and served again while it is younger than ttl and its bits
// are unchanged and the active key the same; changed bits are signed again at most once a second, so a
// burst of revocations costs one signature per list per second. exp is
// iat + 2 * ttl: a copy served is always valid for at least ttl more, as
// long as a verifier may cache it. Safe for concurrent use.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/clock.h"
#include "engine/config.h"
#include "engine/key_ring.h"
#include "engine/status_store.h"
#include "logical/storage.h"

namespace taskcred::engine {

// Media type and JWT typ of a status list token (the draft's).
inline constexpr std::string_view kStatusListMediaType = "application/statuslist+jwt";
inline constexpr std::string_view kStatusListJwtType = "statuslist+jwt";
// Largest status list token we sign: a list of StatusStore::kListSlots bits
// that does not compress at all still fits.
inline constexpr size_t kMaxStatusListJwtBytes = 64 * 1024;

// The URI a credential's status claim names: issuer + "/status/" + list_id
// (trailing slashes of the issuer dropped, as for jwks_uri).
std::string StatusListUri(std::string_view issuer, std::string_view list_id);

class StatusPublisher {
 public:
  StatusPublisher(StatusStore& store, KeyRing& keys, Clock clock)
      : store_(store), keys_(keys), clock_(std::move(clock)) {}

  // The signed list, or std::nullopt when no such list exists (never
  // allocated from, or tidied).
  common::Result<std::optional<std::string>> Get(logical::Storage& storage, const ConfigEntry& config,
                                                 std::string_view list_id);

  // Forgets every signed copy (the key ring or config changed elsewhere).
  void Clear();

 private:
  struct Signed {
    std::string jwt;
    std::string bits;  // the list's bytes it was signed from
    int64_t signed_at = 0;
    std::string issuer;
    int64_t ttl = 0;
    std::string kid;
  };

  StatusStore& store_;
  KeyRing& keys_;
  Clock clock_;
  std::mutex mu_;
  std::map<std::string, Signed, std::less<>> signed_;  // by list id
};

}  // namespace taskcred::engine
