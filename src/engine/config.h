// ConfigEntry and ConfigStore: the engine settings stored at `config`.
//
// A mount that never wrote `config` uses the defaults below; deleting
// `config` restores them. Reads return exactly what was written (durations
// as integer seconds). ConfigStore caches the decoded entry in memory and
// drops it on Invalidate() (InvalidateKey("config")); it is safe for
// concurrent use and never holds its lock across a storage call.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "logical/backend.h"
#include "logical/storage.h"

namespace taskcred::engine {

inline constexpr std::string_view kDefaultIssuer = "vault-taskcred";
inline constexpr std::string_view kDefaultSigningAlgorithm = "EdDSA";
inline constexpr int64_t kDefaultRotationPeriod = 30 * 24 * 3600;  // 30 days
inline constexpr int64_t kDefaultVerificationTtl = 24 * 3600;      // 24 hours
// Smallest non-zero rotation_period accepted.
inline constexpr int64_t kMinRotationPeriod = 60;
// max_request_bytes bounds: at least 64 KiB (so the config write that raises
// it again always fits), at most Vault's own 32 MiB body limit.
inline constexpr int64_t kMinMaxRequestBytes = 64 * 1024;
inline constexpr int64_t kMaxMaxRequestBytes = 32 * 1024 * 1024;
// status_list_ttl: default, and the bounds (a day at most: a verifier may
// keep a list that long before it sees a revocation).
inline constexpr int64_t kDefaultStatusListTtl = 60;
inline constexpr int64_t kMaxStatusListTtl = 24 * 3600;

struct ConfigEntry {
  std::string issuer{kDefaultIssuer};
  std::string signing_algorithm{kDefaultSigningAlgorithm};
  int64_t rotation_period = kDefaultRotationPeriod;    // seconds; 0 = never rotate automatically
  int64_t verification_ttl = kDefaultVerificationTtl;  // seconds
  std::vector<std::string> default_audience;
  // Larger requests (serialized, as the plugin receives them) get a 413
  // before they are parsed (logical::Backend::MaxRequestBytes).
  int64_t max_request_bytes = static_cast<int64_t>(logical::kDefaultMaxRequestBytes);
  // Token Status List (docs/status_list.md): every JWT credential issued
  // while on gets a status entry; status_list_ttl is how long a verifier
  // may cache a list (seconds).
  bool status_list = true;
  int64_t status_list_ttl = kDefaultStatusListTtl;

  // Storage form and response data (the same object).
  nlohmann::json ToJson() const;
  // Decodes a stored entry; missing members keep their defaults.
  static common::Result<ConfigEntry> FromJson(const nlohmann::json& j);

  bool operator==(const ConfigEntry&) const = default;
};

// Field-level validation; InvalidArgument names the field and the rule.
// Does not know about roles (see ConfigStore users for the max_ttl rule).
common::Status ValidateConfig(const ConfigEntry& config);

// True for "EdDSA", "ES256", "RS256".
bool IsSupportedAlgorithm(std::string_view name);

class ConfigStore {
 public:
  // Returns the stored config, or the defaults when none is stored.
  // Non-OK only on storage failure or an undecodable stored entry.
  common::Result<ConfigEntry> Get(logical::Storage& storage);
  // Returns true iff an entry is stored (not cached).
  common::Result<bool> Exists(logical::Storage& storage);
  // REQUIRES: ValidateConfig(config).ok()
  common::Status Put(logical::Storage& storage, const ConfigEntry& config);
  common::Status Delete(logical::Storage& storage);
  // Drops the cached entry.
  void Invalidate();
  // max_request_bytes of the config last loaded, written or deleted (the
  // default before any): read on every request, without a lock.
  size_t MaxRequestBytes() const { return max_request_bytes_.load(std::memory_order_relaxed); }

 private:
  void Loaded(const ConfigEntry& config) {
    max_request_bytes_.store(static_cast<size_t>(config.max_request_bytes), std::memory_order_relaxed);
  }

  std::shared_mutex mu_;
  std::optional<ConfigEntry> cached_;  // guarded by mu_
  uint64_t generation_ = 0;            // guarded by mu_; bumped by every Invalidate/Put/Delete
  std::atomic<size_t> max_request_bytes_{logical::kDefaultMaxRequestBytes};
};

}  // namespace taskcred::engine
