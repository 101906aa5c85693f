// config: read, create/update, delete -- the engine settings.
#include <utility>

#include "engine/field_names.h"
#include "engine/path_util.h"
#include "engine/services.h"
#include "framework/response.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kConfigSynopsis = "Configure the taskcred engine: issuer, signing keys, audience.";
constexpr std::string_view kConfigDescription = R"(
Settings of this taskcred mount. A mount that never wrote config uses the
defaults: issuer "vault-taskcred", signing_algorithm EdDSA, rotation_period
30 days, verification_ttl 24 hours, no default_audience, max_request_bytes
1 MiB, status_list true, status_list_ttl 60 seconds. Reads return exactly
what was written (durations as integer seconds); delete restores the defaults.

verification_ttl is how long a retired signing key stays in the JWKS. It must
be at least every role's ttl and max_ttl, so a write that would lower it below
a role's is refused (config and role writes are serialized, so this holds
under concurrent writes). A mount whose roles already exceed it (written
before that was so) is repaired by writes that do not make it worse: config
writes that keep or raise verification_ttl are accepted with a warning, and
reads warn until it is fixed. A new signing_algorithm replaces the unpublished
next key at once and signs from the following rotation on.
)";

// The longest role lifetime, and a warning when it exceeds verification_ttl.
Result<std::optional<std::string>> LongestLifetimeWarning(Services& s, logical::Storage& storage,
                                                          int64_t verification_ttl) {
  TC_ASSIGN_OR_RETURN(auto longest, s.roles.LongestLifetime(storage));
  if (longest.first <= verification_ttl) return std::optional<std::string>();
  return std::optional<std::string>(
      "verification_ttl " + std::to_string(verification_ttl) + " is below role \"" + longest.second +
      "\"'s ttl/max_ttl " + std::to_string(longest.first) +
      ": its credentials can outlive their signing key in the JWKS; raise verification_ttl or lower the role");
}

// A verification_ttl shorter than the longest role lifetime is refused,
// unless the mount is already in that state and the write does not lower
// it (a repair). Returns the warning of an accepted violation.
Result<std::optional<std::string>> CheckRoleLifetimes(Services& s, logical::Storage& storage,
                                                      int64_t verification_ttl, int64_t current) {
  TC_ASSIGN_OR_RETURN(auto longest, s.roles.LongestLifetime(storage));
  if (longest.first <= verification_ttl) return std::optional<std::string>();
  if (verification_ttl < current) {
    return Status::InvalidArgument(
        "verification_ttl: must be at least the longest role ttl/max_ttl (role \"" + longest.second +
        "\" has " + std::to_string(longest.first) + " > " + std::to_string(verification_ttl) + ")");
  }
  return LongestLifetimeWarning(s, storage, verification_ttl);
}

logical::Response WithWarning(logical::Response resp, const std::optional<std::string>& warning) {
  if (warning) resp.warnings.push_back(*warning);
  return resp;
}

class ConfigHandlers {
 public:
  explicit ConfigHandlers(std::shared_ptr<Services> s) : s_(std::move(s)) {}

  Result<bool> Exists(Request& req, const FieldData&) { return s_->config.Exists(*req.storage); }

  HandlerResult Read(Request& req, const FieldData&) {
    TC_ASSIGN_OR_RETURN(ConfigEntry config, s_->config.Get(*req.storage));
    TC_ASSIGN_OR_RETURN(auto warning, LongestLifetimeWarning(*s_, *req.storage, config.verification_ttl));
    logical::Response resp;
    resp.data = config.ToJson();
    return std::optional<logical::Response>(WithWarning(std::move(resp), warning));
  }

  HandlerResult Write(Request& req, const FieldData& d) {
    std::lock_guard lock(s_->settings_mu);
    TC_ASSIGN_OR_RETURN(ConfigEntry config, s_->config.Get(*req.storage));
    const int64_t current_ttl = config.verification_ttl;
    TC_RETURN_IF_ERROR(d.UpdateIfSet(kFieldIssuer, config.issuer));
    TC_RETURN_IF_ERROR(d.UpdateIfSet(kFieldSigningAlgorithm, config.signing_algorithm));
    TC_RETURN_IF_ERROR(d.UpdateIfSet(kFieldRotationPeriod, config.rotation_period));
    TC_RETURN_IF_ERROR(d.UpdateIfSet(kFieldVerificationTtl, config.verification_ttl));
    TC_RETURN_IF_ERROR(d.UpdateIfSet(kFieldDefaultAudience, config.default_audience));
    TC_RETURN_IF_ERROR(d.UpdateIfSet(kFieldMaxRequestBytes, config.max_request_bytes));
    TC_RETURN_IF_ERROR(d.UpdateIfSet(kFieldStatusList, config.status_list));
    TC_RETURN_IF_ERROR(d.UpdateIfSet(kFieldStatusListTtl, config.status_list_ttl));
    TC_RETURN_IF_ERROR(ValidateConfig(config));
    TC_ASSIGN_OR_RETURN(auto warning, CheckRoleLifetimes(*s_, *req.storage, config.verification_ttl, current_ttl));
    TC_RETURN_IF_ERROR(s_->config.Put(*req.storage, config));
    TC_RETURN_IF_ERROR(s_->keys.ApplyConfig(*req.storage, config));
    if (!warning) return framework::NoResponse();
    return std::optional<logical::Response>(WithWarning({}, warning));
  }

  HandlerResult Delete(Request& req, const FieldData&) {
    std::lock_guard lock(s_->settings_mu);
    TC_ASSIGN_OR_RETURN(ConfigEntry config, s_->config.Get(*req.storage));
    auto checked = CheckRoleLifetimes(*s_, *req.storage, ConfigEntry{}.verification_ttl, config.verification_ttl);
    if (!checked.ok()) {
      return checked.status().WithContext("config delete would restore the default verification_ttl");
    }
    TC_RETURN_IF_ERROR(s_->config.Delete(*req.storage));
    TC_RETURN_IF_ERROR(s_->keys.ApplyConfig(*req.storage, ConfigEntry{}));
    if (!*checked) return framework::NoResponse();
    return std::optional<logical::Response>(WithWarning({}, *checked));
  }

 private:
  std::shared_ptr<Services> s_;
};

}  // namespace

std::vector<framework::Path> ConfigPaths(std::shared_ptr<Services> s) {
  auto h = std::make_shared<ConfigHandlers>(std::move(s));
  auto write = Bind(h, &ConfigHandlers::Write);
  return {{
      .pattern = "config",
      .fields = {{.name = kFieldIssuer,
                  .type = FieldType::kString,
                  .description = "Value of the iss claim (and of the discovery document). Default "
                                 "\"vault-taskcred\"; an https URL makes jwks_uri discoverable."},
                 {.name = kFieldSigningAlgorithm,
                  .type = FieldType::kString,
                  .description = "JWS algorithm of new signing keys: EdDSA (default), ES256 or RS256."},
                 {.name = kFieldRotationPeriod,
                  .type = FieldType::kDurationSecond,
                  .description = "Rotate the signing key this long after it started signing (0 = never). "
                                 "Default 30 days."},
                 {.name = kFieldVerificationTtl,
                  .type = FieldType::kDurationSecond,
                  .description = "How long a retired key stays in the JWKS; at least every role's max_ttl. "
                                 "Default 24h."},
                 {.name = kFieldDefaultAudience,
                  .type = FieldType::kCommaStringSlice,
                  .description = "aud of credentials whose role sets no audience."},
                 {.name = kFieldMaxRequestBytes,
                  .type = FieldType::kInt,
                  .description = "Requests to this mount larger than this many bytes (as the plugin receives "
                                 "them: body plus Vault's envelope) are refused with 413 before they are read. "
                                 "64 KiB to 32 MiB; default 1 MiB."},
                 {.name = kFieldStatusList,
                  .type = FieldType::kBool,
                  .description = "Give every JWT credential a status entry (Token Status List) that "
                                 "offline verifiers read at status/<list_id>. Default true."},
                 {.name = kFieldStatusListTtl,
                  .type = FieldType::kDurationSecond,
                  .description = "How long a verifier may cache a status list (its ttl claim and "
                                 "Cache-Control max-age). 1s to 24h; default 60s."}},
      .existence_check = BindExists(h, &ConfigHandlers::Exists),
      .operations = {{Operation::kRead, {Bind(h, &ConfigHandlers::Read), "Read the engine configuration."}},
                     {Operation::kCreate, {write, "Configure the engine."}},
                     {Operation::kUpdate, {write, "Configure the engine."}},
                     {Operation::kDelete,
                      {Bind(h, &ConfigHandlers::Delete), "Restore the default configuration."}}},
      .help = {kConfigSynopsis, kConfigDescription},
  }};
}

}  // namespace taskcred::engine
