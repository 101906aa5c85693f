// TaskRecord and TaskStore: one record per issued credential at
// tasks/<hour>/<task_id>, where <hour> is the record's horizon hour (the
// latest its lease can end) and also the first 8 hex digits of its task id
// (a version-8 UUID), so an issuance is one storage write and tidy visits
// only hours that are entirely past (plus a safety margin): its cost is
// proportional to what it removes, not to all records. Records of version-4
// ids (written before this layout) stay at tasks/<task_id> with an expiry
// marker expiry/<bucket>/<task_id>, and are read, changed and tidied as
// before (storage_keys.h).
//
// Use counting, revocation, release and renewal are read-modify-write
// sequences. Mutate() runs them under a per-process mutex chosen by task_id
// (64 stripes), so concurrent consumers of one credential are serialized;
// Vault has one active node writing at a time, so this is the whole story
// (docs/engine.md, "Atomic use counting"). Safe for concurrent use.
//
// A bounded cache of records (LRU, `cache_size` entries) spares the storage
// Get of a known task: it is filled and updated only under the task's stripe
// lock (so a use counted by Mutate is never overwritten by an older copy),
// written through by this node's Create/Mutate/Tidy, and dropped per task on
// InvalidateKey (another node wrote the record).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/lru_cache.h"
#include "fiber/mutex.h"
#include "grants/grant.h"
#include "logical/storage.h"

namespace taskcred::engine {

// Records stay this long after their expiry before tidy deletes them.
inline constexpr int64_t kTidySafetyMargin = 3600;

struct TaskRecord {
  // A task delegated from this one (children/<parent>/<child>), with its
  // status list slot: a parent that ends sets its children's bits from
  // these entries, whether or not a child's record was written yet.
  struct Child {
    std::string task_id;
    std::string status_list;  // empty / -1 without a status entry
    int64_t status_idx = -1;
    bool operator==(const Child&) const = default;
  };

  std::string task_id;
  std::string role;
  std::string task;
  std::string instance;
  std::vector<grants::Grant> grants;
  std::vector<std::string> audience;
  std::string sub;
  std::string entity_id;
  std::string credential_type;
  std::string token_hash;  // opaque: hex SHA-256 of the token; never the token
  std::string kid;         // jwt: the signing key
  // jwt with a status entry: its Token Status List and index in it
  // (StatusStore); empty / -1 without.
  std::string status_list;
  int64_t status_idx = -1;
  // Bound to a holder's key (RFC 9449): its JWK thumbprint; empty if not.
  std::string cnf_jkt;
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  int64_t max_ttl_at = 0;  // renewals never go past this
  int64_t ttl = 0;         // the TTL granted at issue (default renew increment)
  bool renewable = false;
  int64_t max_uses = 0;  // 0 = unlimited
  int64_t uses = 0;
  int64_t renewals = 0;  // lease renewals Vault made
  bool revoked = false;
  bool released = false;
  // Delegation: the parent's task id, the grandparent's, ... (nearest
  // first); empty for a task issued by creds. Never changes.
  std::vector<std::string> ancestors;
  // May have children (children/<task_id>/...): set at issuance when the
  // role allows delegation, else by the first delegation.
  bool delegable = false;
  // Liveness: with heartbeat_ttl > 0 the holder must call heartbeat at
  // least that often (heartbeat_at: the last one; issuance counts).
  int64_t heartbeat_ttl = 0;
  int64_t heartbeat_at = 0;
  // A missed heartbeat, made persistent by the periodic sweep (LiveTasks).
  bool lapsed = false;
  // Has a live/<role>/<task_id> marker (LiveTasks), removed when it ends.
  bool tracked = false;

  nlohmann::json ToJson() const;
  static common::Result<TaskRecord> FromJson(const nlohmann::json& j);

  bool Spent() const { return max_uses > 0 && uses >= max_uses; }
  // Vault has renewed or revoked the lease, or the holder has consumed a use
  // or released the task: the issuance's answer reached someone. An issued
  // task stays unconfirmed until then (no write is added to mark it), and a
  // task that expires unconfirmed never had its lease revoked by Vault (which
  // revokes every lease it holds when it expires): the answer was lost, e.g.
  // the plugin was killed between the record's write and the answer.
  bool Confirmed() const {
    return revoked || released || uses > 0 || renewals > 0 || heartbeat_at > issued_at;
  }
  // The latest the task's lease can end: expires_at, or max_ttl_at when
  // renewable (a renewal never passes it). Fixes the record's storage hour.
  int64_t Horizon() const { return renewable ? std::max(expires_at, max_ttl_at) : expires_at; }
  // Its heartbeat is due and was not made (or the sweep recorded that).
  bool HeartbeatMissed(int64_t now) const {
    return heartbeat_ttl > 0 && (lapsed || now >= heartbeat_at + heartbeat_ttl);
  }
  // Not revoked, released, spent, expired or missing its heartbeat at `now`
  // (its ancestors are checked apart: Introspector).
  bool IsActive(int64_t now) const {
    return !revoked && !released && !Spent() && now < expires_at && !HeartbeatMissed(now);
  }
  // Revoked, released, used up or lapsed: ended before its expiry ran out,
  // for good.
  bool Ended() const { return revoked || released || Spent() || lapsed; }
  // Delegation depth: 0 for a task issued by creds.
  size_t Depth() const { return ancestors.size(); }
  // Operator view (tasks/<id>): no token hash.
  nlohmann::json ToOperatorJson(int64_t now) const;
};

// True for a lowercase RFC 4122 UUID string (the only task ids we mint).
bool IsValidTaskId(std::string_view id);

// A fresh task id for a record whose Horizon() is `horizon`: a version-8
// UUID beginning with the horizon hour (hours since the epoch, 8 hex digits).
std::string NewTaskId(int64_t horizon);

struct TidyCounts {
  int64_t buckets_scanned = 0;
  int64_t tasks_deleted = 0;
  int64_t index_entries_deleted = 0;
  // Deleted records that were never Confirmed(): issuances whose answer was lost.
  std::vector<TaskRecord> unconfirmed;
  // Status lists deleted with their hour (Services::TidyTasks; not TaskStore's).
  int64_t status_lists_deleted = 0;
};

// Records a mount keeps in memory unless its `task_cache_size` option says otherwise.
inline constexpr size_t kDefaultTaskCacheSize = 4096;

class TaskStore {
 public:
  // Called by Mutate, under the task's lock and before the record is
  // written, when a mutation ends a task (Ended() turns true); its failure
  // fails the mutation, which then writes nothing. The status list's bit is
  // set this way (services.h), so no path that ends a task can forget it.
  using EndHook = std::function<common::Status(logical::Storage&, const TaskRecord&)>;

  explicit TaskStore(size_t cache_size = kDefaultTaskCacheSize, EndHook on_end = nullptr)
      : cache_(cache_size), on_end_(std::move(on_end)) {}

  using RecordPtr = std::shared_ptr<const TaskRecord>;
  // nullptr if absent (or `task_id` is not a task id); non-OK on storage failure.
  common::Result<RecordPtr> GetShared(logical::Storage& storage, std::string_view task_id);
  // The same, as a copy.
  common::Result<std::optional<TaskRecord>> Get(logical::Storage& storage, std::string_view task_id);
  // Writes the record (one Put). The record's Horizon() must fall within the
  // hour its task id names (NewTaskId). A version-4 id also gets its expiry
  // marker, written first.
  common::Status Create(logical::Storage& storage, const TaskRecord& record);

  // Runs `fn` on the current record (std::nullopt if absent) under the
  // task's stripe lock. If `fn` returns true the record is written back,
  // after the EndHook when `fn` ended the task (a
  // version-4 record is also indexed under its new expiry if that changed;
  // a record that would outlive its storage hour is refused). Returns fn's
  // status.
  using Mutation = std::function<common::Result<bool>(std::optional<TaskRecord>&)>;
  common::Status Mutate(logical::Storage& storage, std::string_view task_id, const Mutation& fn);

  // Task ids stored (not yet tidied), sorted, those after `after` (when not
  // empty), at most `limit` of them (0 = all). Lists the hours that can hold
  // such ids, not every hour.
  common::Result<std::vector<std::string>> ListPage(logical::Storage& storage, std::string_view after = {},
                                                    int limit = 0);

  // Deletes records whose expires_at + margin <= now, visiting only storage
  // hours and legacy expiry buckets that end at or before now - margin.
  common::Result<TidyCounts> Tidy(logical::Storage& storage, int64_t now, int64_t margin = kTidySafetyMargin);

  // Delegation: under the parent's lock, and only when the parent exists
  // and `admit` holds for it, records `child` as its child
  // (children/<parent>/<child>, one small write; a parent not yet
  // delegable is marked so first, one more). False when refused.
  common::Result<bool> AddChild(logical::Storage& storage, std::string_view parent_id, const TaskRecord::Child& child,
                                const std::function<bool(const TaskRecord&)>& admit);
  // The children recorded for a delegable task, by id (no lock taken).
  common::Result<std::vector<TaskRecord::Child>> Children(logical::Storage& storage, std::string_view task_id);

  // The record as this node last knew it (cache), else as stored, without
  // taking the task's lock or filling the cache: for reads made while
  // another task's lock is held (the EndHook's walk over descendants).
  common::Result<RecordPtr> Peek(logical::Storage& storage, std::string_view task_id);

  // Forgets the cached copy of a task (its record changed elsewhere), or all.
  void Invalidate(std::string_view task_id) { cache_.Erase(task_id); }
  void InvalidateAll() { cache_.Clear(); }

  static std::string RecordKey(std::string_view task_id);
  // The legacy expiry marker of a version-4 task id.
  static std::string IndexKey(int64_t expires_at, std::string_view task_id);

 private:
  // Held across storage calls: fiber-aware (suspends a request, not a thread).
  fiber::Mutex& StripeFor(std::string_view task_id);
  std::array<fiber::Mutex, 64> stripes_;
  // Storage read of a record, no cache.
  common::Result<RecordPtr> Load(logical::Storage& storage, std::string_view task_id);
  // Tidy's step for one task: deletes its record if past expiry + margin.
  common::Status DeleteIfPast(logical::Storage& storage, const std::string& task_id, int64_t now, int64_t margin,
                              TidyCounts& counts);
  common::Status TidyHours(logical::Storage& storage, const std::vector<std::string>& top, int64_t now,
                           int64_t margin, TidyCounts& counts);
  common::Status TidyLegacy(logical::Storage& storage, int64_t now, int64_t margin, TidyCounts& counts);
  LruCache<RecordPtr> cache_;
  EndHook on_end_;
};

}  // namespace taskcred::engine
