// Storage layout of one taskcred mount (keys relative to the mount).
//
//   config                      ConfigEntry (JSON); absent = defaults
//   keys/ring                   KeyRing: every signing key, private PEM included
//                               (prefix keys/ is declared seal-wrap storage)
//   roles/<name>                RoleEntry (JSON)
//   tasks/<task_id>             TaskRecord (JSON), one per issued credential
//   expiry/<bucket>/<task_id>   empty marker: the record expires within the
//                               hour starting at <bucket> (unix seconds,
//                               zero-padded to 12 digits so names sort by time)
#pragma once

#include <string_view>

namespace taskcred::engine {

inline constexpr std::string_view kConfigKey = "config";
inline constexpr std::string_view kKeysPrefix = "keys/";
inline constexpr std::string_view kKeyRingKey = "keys/ring";
inline constexpr std::string_view kRolePrefix = "roles/";
inline constexpr std::string_view kTaskPrefix = "tasks/";
inline constexpr std::string_view kExpiryPrefix = "expiry/";

// Width of one expiry-index bucket, in seconds.
inline constexpr int64_t kExpiryBucketSeconds = 3600;

}  // namespace taskcred::engine
