// Storage layout of one taskcred mount (keys relative to the mount).
//
//   config                      ConfigEntry (JSON); absent = defaults
//   keys/ring                   KeyRing: every signing key, private PEM included
//                               (prefix keys/ is declared seal-wrap storage)
//   roles/<name>                RoleEntry (JSON)
//   tasks/<hour>/<task_id>      TaskRecord (JSON), one per issued credential.
//                               <hour> is the record's horizon, the latest its
//                               lease can end (expires_at; max_ttl_at when
//                               renewable), in hours since the epoch as 8 hex
//                               digits. The task id is a version-8 UUID that
//                               begins with the same 8 digits, so the key
//                               follows from the id: one write per issuance,
//                               and tidy lists only hours entirely past.
//   tasks/<task_id>             TaskRecord of a version-4 task id (minted
//                               before the layout above); read, changed and
//                               tidied as before, with its marker:
//   children/<parent>/<child>   a delegated task's status slot, under its
//                               parent's id (TaskStore::AddChild); deleted
//                               with the parent's record by tidy
//   live/<role>/<task_id>       empty marker of a live task of a role that
//                               limits or watches them (live_tasks.h)
//   status/<list_id>/...        Token Status Lists (status_store.h)
//   expiry/<bucket>/<task_id>   empty marker: the version-4 record expires
//                               within the hour starting at <bucket> (unix
//                               seconds, zero-padded to 12 digits)
#pragma once

#include <cstdint>
#include <string_view>

namespace taskcred::engine {

inline constexpr std::string_view kConfigKey = "config";
inline constexpr std::string_view kKeysPrefix = "keys/";
inline constexpr std::string_view kKeyRingKey = "keys/ring";
inline constexpr std::string_view kRolePrefix = "roles/";
inline constexpr std::string_view kTaskPrefix = "tasks/";
inline constexpr std::string_view kExpiryPrefix = "expiry/";
inline constexpr std::string_view kChildrenPrefix = "children/";

// Width of one horizon hour (tasks/<hour>/) and of one legacy expiry-index
// bucket, in seconds.
inline constexpr int64_t kExpiryBucketSeconds = 3600;

}  // namespace taskcred::engine
