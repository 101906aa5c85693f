#include "engine/status_publisher.h"

#include "crypto/jwt.h"
#include "statuslist/status_list.h"

namespace taskcred::engine {

using common::Result;
using common::Status;

std::string StatusListUri(std::string_view issuer, std::string_view list_id) {
  while (!issuer.empty() && issuer.back() == '/') issuer.remove_suffix(1);
  std::string uri(issuer);
  uri += "/status/";
  uri += list_id;
  return uri;
}

Result<std::optional<std::string>> StatusPublisher::Get(logical::Storage& storage, const ConfigEntry& config,
                                                        std::string_view list_id) {
  TC_ASSIGN_OR_RETURN(std::optional<statuslist::BitList> bits, store_.Bits(storage, list_id));
  if (!bits) {
    std::lock_guard lock(mu_);
    if (auto it = signed_.find(list_id); it != signed_.end()) signed_.erase(it);
    return std::optional<std::string>();
  }
  const int64_t now = UnixSeconds(clock_());
  // The ring is cached: no storage call unless it changed.
  TC_ASSIGN_OR_RETURN(ActiveKey key, keys_.ActiveSigningKey(storage, config));
  {
    std::lock_guard lock(mu_);
    if (auto it = signed_.find(list_id); it != signed_.end()) {
      const Signed& s = it->second;
      const bool same_terms = s.issuer == config.issuer && s.ttl == config.status_list_ttl && s.kid == key.kid;
      const bool young = now >= s.signed_at && now - s.signed_at < s.ttl;
      // Changed bits wait for the next second: at most one signature a second.
      if (same_terms && young && (s.bits == bits->bytes() || now == s.signed_at)) {
        return std::optional<std::string>(s.jwt);
      }
    }
  }
  const std::string uri = StatusListUri(config.issuer, list_id);
  nlohmann::json claims = {{"sub", uri},
                           {"iat", now},
                           {"exp", now + 2 * config.status_list_ttl},
                           {"ttl", config.status_list_ttl},
                           {"status_list", statuslist::Encode(*bits)}};
  TC_ASSIGN_OR_RETURN(std::string jwt,
                      crypto::SignJwt(key.key, key.kid, claims,
                                      {.typ = kStatusListJwtType, .max_bytes = kMaxStatusListJwtBytes}));
  std::lock_guard lock(mu_);
  signed_.insert_or_assign(std::string(list_id),
                           Signed{jwt, std::string(bits->bytes()), now, config.issuer, config.status_list_ttl, key.kid});
  return std::optional<std::string>(std::move(jwt));
}

void StatusPublisher::Clear() {
  std::lock_guard lock(mu_);
  signed_.clear();
}

}  // namespace taskcred::engine
