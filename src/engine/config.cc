#include "engine/config.h"

#include <string_view>
#include <utility>

#include "engine/field_names.h"
#include "engine/json_util.h"
#include "engine/storage_keys.h"

namespace taskcred::engine {

using common::Result;
using common::Status;

nlohmann::json ConfigEntry::ToJson() const {
  return {{kFieldIssuer, issuer},
          {kFieldSigningAlgorithm, signing_algorithm},
          {kFieldRotationPeriod, rotation_period},
          {kFieldVerificationTtl, verification_ttl},
          {kFieldDefaultAudience, default_audience},
          {kFieldMaxRequestBytes, max_request_bytes},
          {kFieldStatusList, status_list},
          {kFieldStatusListTtl, status_list_ttl}};
}

Result<ConfigEntry> ConfigEntry::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Internal("stored config is not a JSON object");
  ConfigEntry c;
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldIssuer, c.issuer));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldSigningAlgorithm, c.signing_algorithm));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldRotationPeriod, c.rotation_period));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldVerificationTtl, c.verification_ttl));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldDefaultAudience, c.default_audience));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldMaxRequestBytes, c.max_request_bytes));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldStatusList, c.status_list));
  TC_RETURN_IF_ERROR(ReadMember(j, kFieldStatusListTtl, c.status_list_ttl));
  return c;
}

bool IsSupportedAlgorithm(std::string_view name) {
  return name == "EdDSA" || name == "ES256" || name == "RS256";
}

Status ValidateConfig(const ConfigEntry& c) {
  if (c.issuer.empty()) return Status::InvalidArgument("issuer: must not be empty");
  if (c.issuer.size() > 1024) return Status::InvalidArgument("issuer: must be at most 1024 characters");
  for (char ch : c.issuer) {
    if (static_cast<unsigned char>(ch) < 0x21 || ch == 0x7f) {
      return Status::InvalidArgument("issuer: must not contain whitespace or control characters");
    }
  }
  if (!IsSupportedAlgorithm(c.signing_algorithm)) {
    return Status::InvalidArgument("signing_algorithm: must be one of EdDSA, ES256, RS256 (got \"" +
                                   c.signing_algorithm + "\")");
  }
  if (c.rotation_period < 0) return Status::InvalidArgument("rotation_period: must not be negative");
  if (c.rotation_period != 0 && c.rotation_period < kMinRotationPeriod) {
    return Status::InvalidArgument("rotation_period: must be 0 (never) or at least " +
                                   std::to_string(kMinRotationPeriod) + " seconds");
  }
  if (c.verification_ttl <= 0) return Status::InvalidArgument("verification_ttl: must be greater than zero");
  TC_RETURN_IF_ERROR(ValidateAudienceList(kFieldDefaultAudience, c.default_audience));
  if (c.max_request_bytes < kMinMaxRequestBytes || c.max_request_bytes > kMaxMaxRequestBytes) {
    return Status::InvalidArgument("max_request_bytes: must be between " + std::to_string(kMinMaxRequestBytes) +
                                   " (64 KiB) and " + std::to_string(kMaxMaxRequestBytes) + " (32 MiB), got " +
                                   std::to_string(c.max_request_bytes));
  }
  if (c.status_list_ttl < 1 || c.status_list_ttl > kMaxStatusListTtl) {
    return Status::InvalidArgument("status_list_ttl: must be between 1 second and " +
                                   std::to_string(kMaxStatusListTtl) + " seconds (24h), got " +
                                   std::to_string(c.status_list_ttl));
  }
  return Status::Ok();
}

Result<ConfigEntry> ConfigStore::Get(logical::Storage& storage) {
  uint64_t generation;
  {
    std::shared_lock lock(mu_);
    if (cached_) return *cached_;
    generation = generation_;
  }
  TC_ASSIGN_OR_RETURN(std::optional<logical::StorageEntry> entry, storage.Get(kConfigKey));
  ConfigEntry config;
  if (entry) {
    TC_ASSIGN_OR_RETURN(nlohmann::json j, ParseStoredJson(entry->value, "config"));
    TC_ASSIGN_OR_RETURN(config, ConfigEntry::FromJson(j));
  }
  std::unique_lock lock(mu_);
  if (generation == generation_) {
    cached_ = config;
    Loaded(config);
  }
  return config;
}

Result<bool> ConfigStore::Exists(logical::Storage& storage) {
  TC_ASSIGN_OR_RETURN(std::optional<logical::StorageEntry> entry, storage.Get(kConfigKey));
  return entry.has_value();
}

Status ConfigStore::Put(logical::Storage& storage, const ConfigEntry& config) {
  Status s = storage.Put({std::string(kConfigKey), config.ToJson().dump(), false});
  Invalidate();
  if (s.ok()) Loaded(config);
  return s;
}

Status ConfigStore::Delete(logical::Storage& storage) {
  Status s = storage.Delete(kConfigKey);
  Invalidate();
  if (s.ok()) Loaded(ConfigEntry{});
  return s;
}

void ConfigStore::Invalidate() {
  std::unique_lock lock(mu_);
  cached_.reset();
  ++generation_;
}

}  // namespace taskcred::engine
