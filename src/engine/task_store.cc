#include "engine/task_store.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <utility>

#include "crypto/random.h"
#include "engine/clock.h"
#include "engine/json_util.h"
#include "engine/storage_keys.h"

namespace taskcred::engine {

using common::Result;
using common::Status;

nlohmann::json TaskRecord::ToJson() const {
  nlohmann::json j = {{"task_id", task_id},
          {"role", role},
          {"task", task},
          {"instance", instance},
          {"grants", grants::GrantsToJson(grants)},
          {"audience", audience},
          {"sub", sub},
          {"entity_id", entity_id},
          {"credential_type", credential_type},
          {"token_hash", token_hash},
          {"kid", kid},
          {"issued_at", issued_at},
          {"expires_at", expires_at},
          {"max_ttl_at", max_ttl_at},
          {"ttl", ttl},
          {"renewable", renewable},
          {"max_uses", max_uses},
          {"uses", uses},
          {"renewals", renewals},
          {"revoked", revoked},
          {"released", released}};
  if (!cnf_jkt.empty()) j["cnf_jkt"] = cnf_jkt;
  if (!status_list.empty()) {
    j["status_list"] = status_list;
    j["status_idx"] = status_idx;
  }
  if (!ancestors.empty()) j["ancestors"] = ancestors;
  if (delegable) j["delegable"] = true;
  if (heartbeat_ttl > 0) {
    j["heartbeat_ttl"] = heartbeat_ttl;
    j["heartbeat_at"] = heartbeat_at;
  }
  if (lapsed) j["lapsed"] = true;
  if (tracked) j["tracked"] = true;
  return j;
}

Result<TaskRecord> TaskRecord::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Internal("stored task record is not a JSON object");
  TaskRecord r;
  TC_RETURN_IF_ERROR(ReadMember(j, "task_id", r.task_id));
  TC_RETURN_IF_ERROR(ReadMember(j, "role", r.role));
  TC_RETURN_IF_ERROR(ReadMember(j, "task", r.task));
  TC_RETURN_IF_ERROR(ReadMember(j, "instance", r.instance));
  if (auto it = j.find("grants"); it != j.end()) {
    auto parsed = grants::ParseGrants(*it);
    if (!parsed.ok()) return Status::Internal("stored task grants: " + parsed.status().message());
    r.grants = std::move(parsed).value();
  }
  TC_RETURN_IF_ERROR(ReadMember(j, "audience", r.audience));
  TC_RETURN_IF_ERROR(ReadMember(j, "sub", r.sub));
  TC_RETURN_IF_ERROR(ReadMember(j, "entity_id", r.entity_id));
  TC_RETURN_IF_ERROR(ReadMember(j, "credential_type", r.credential_type));
  TC_RETURN_IF_ERROR(ReadMember(j, "token_hash", r.token_hash));
  TC_RETURN_IF_ERROR(ReadMember(j, "kid", r.kid));
  TC_RETURN_IF_ERROR(ReadMember(j, "issued_at", r.issued_at));
  TC_RETURN_IF_ERROR(ReadMember(j, "expires_at", r.expires_at));
  TC_RETURN_IF_ERROR(ReadMember(j, "max_ttl_at", r.max_ttl_at));
  TC_RETURN_IF_ERROR(ReadMember(j, "ttl", r.ttl));
  TC_RETURN_IF_ERROR(ReadMember(j, "renewable", r.renewable));
  TC_RETURN_IF_ERROR(ReadMember(j, "max_uses", r.max_uses));
  TC_RETURN_IF_ERROR(ReadMember(j, "uses", r.uses));
  TC_RETURN_IF_ERROR(ReadMember(j, "renewals", r.renewals));
  TC_RETURN_IF_ERROR(ReadMember(j, "revoked", r.revoked));
  TC_RETURN_IF_ERROR(ReadMember(j, "released", r.released));
  TC_RETURN_IF_ERROR(ReadMember(j, "status_list", r.status_list));
  TC_RETURN_IF_ERROR(ReadMember(j, "status_idx", r.status_idx));
  TC_RETURN_IF_ERROR(ReadMember(j, "cnf_jkt", r.cnf_jkt));
  TC_RETURN_IF_ERROR(ReadMember(j, "ancestors", r.ancestors));
  TC_RETURN_IF_ERROR(ReadMember(j, "delegable", r.delegable));
  TC_RETURN_IF_ERROR(ReadMember(j, "heartbeat_ttl", r.heartbeat_ttl));
  TC_RETURN_IF_ERROR(ReadMember(j, "heartbeat_at", r.heartbeat_at));
  TC_RETURN_IF_ERROR(ReadMember(j, "lapsed", r.lapsed));
  TC_RETURN_IF_ERROR(ReadMember(j, "tracked", r.tracked));
  return r;
}

nlohmann::json TaskRecord::ToOperatorJson(int64_t now) const {
  nlohmann::json j = {{"task_id", task_id},
                      {"role", role},
                      {"task", task},
                      {"grants", grants::GrantsToJson(grants)},
                      {"audience", audience},
                      {"sub", sub},
                      {"credential_type", credential_type},
                      {"issued_at", Rfc3339(issued_at)},
                      {"expires_at", Rfc3339(expires_at)},
                      {"max_uses", max_uses},
                      {"uses", uses},
                      {"revoked", revoked},
                      {"released", released},
                      {"renewals", renewals},
                      {"confirmed", Confirmed()},
                      {"active", IsActive(now)}};
  if (!instance.empty()) j["instance"] = instance;
  if (!status_list.empty()) j["status"] = {{"status_list", status_list}, {"idx", status_idx}};
  if (!cnf_jkt.empty()) j["cnf"] = {{"jkt", cnf_jkt}};
  j["depth"] = Depth();
  if (!ancestors.empty()) {
    j["parent"] = ancestors.front();
    j["ancestors"] = ancestors;
  }
  j["children"] = nlohmann::json::array();  // (filled in by the tasks path: TaskStore::Children)
  if (heartbeat_ttl > 0) {
    j["heartbeat_ttl"] = heartbeat_ttl;
    j["last_heartbeat"] = Rfc3339(heartbeat_at);
    j["heartbeat_due"] = Rfc3339(heartbeat_at + heartbeat_ttl);
    j["heartbeat_missed"] = HeartbeatMissed(now);
  }
  j["uses_remaining"] =
      max_uses > 0 ? nlohmann::json(std::max<int64_t>(0, max_uses - uses)) : nlohmann::json();
  return j;
}

bool IsValidTaskId(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

namespace {

constexpr size_t kHourDigits = 8;

// A version-8 id names its storage hour in its first 8 hex digits.
bool IsHourKeyed(std::string_view task_id) { return task_id.size() == 36 && task_id[14] == '8'; }

// The hour a version-8 id names (hours since the epoch).
int64_t HourOf(std::string_view task_id) {
  uint32_t hour = 0;
  std::from_chars(task_id.data(), task_id.data() + kHourDigits, hour, 16);
  return hour;
}

// "0007a3b2/" as List("tasks/") names an hour folder; -1 for anything else.
int64_t HourFolder(std::string_view entry) {
  if (entry.size() != kHourDigits + 1 || entry.back() != '/') return -1;
  uint32_t hour = 0;
  auto [ptr, ec] = std::from_chars(entry.data(), entry.data() + kHourDigits, hour, 16);
  if (ec != std::errc() || ptr != entry.data() + kHourDigits) return -1;
  for (char c : entry.substr(0, kHourDigits)) {
    if (c >= 'A' && c <= 'F') return -1;  // only the lowercase names we write
  }
  return hour;
}

// True if the record may live in the hour its id names.
bool FitsItsHour(const TaskRecord& record) {
  return record.Horizon() < (HourOf(record.task_id) + 1) * kExpiryBucketSeconds;
}

}  // namespace

std::string NewTaskId(int64_t horizon) {
  int64_t hour = std::max<int64_t>(0, horizon) / kExpiryBucketSeconds;
  return crypto::NewUuidV8(static_cast<uint32_t>(std::min<int64_t>(hour, UINT32_MAX)));
}

std::string TaskStore::RecordKey(std::string_view task_id) {
  std::string key(kTaskPrefix);
  if (IsHourKeyed(task_id)) key.append(task_id.substr(0, kHourDigits)).push_back('/');
  key.append(task_id);
  return key;
}

namespace {

int64_t BucketOf(int64_t t) {
  int64_t b = t / kExpiryBucketSeconds;
  if (t < 0 && t % kExpiryBucketSeconds != 0) --b;
  return b * kExpiryBucketSeconds;
}

std::string BucketName(int64_t bucket) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%012lld", static_cast<long long>(bucket));
  return buf;
}

}  // namespace

std::string TaskStore::IndexKey(int64_t expires_at, std::string_view task_id) {
  return std::string(kExpiryPrefix) + BucketName(BucketOf(expires_at)) + "/" + std::string(task_id);
}

fiber::Mutex& TaskStore::StripeFor(std::string_view task_id) {
  return stripes_[std::hash<std::string_view>{}(task_id) % stripes_.size()];
}

Result<TaskStore::RecordPtr> TaskStore::Load(logical::Storage& storage, std::string_view task_id) {
  TC_ASSIGN_OR_RETURN(std::optional<logical::StorageEntry> entry, storage.Get(RecordKey(task_id)));
  if (!entry) return RecordPtr();
  TC_ASSIGN_OR_RETURN(nlohmann::json j, ParseStoredJson(entry->value, "task record"));
  TC_ASSIGN_OR_RETURN(TaskRecord r, TaskRecord::FromJson(j));
  return RecordPtr(std::make_shared<const TaskRecord>(std::move(r)));
}

Result<TaskStore::RecordPtr> TaskStore::GetShared(logical::Storage& storage, std::string_view task_id) {
  if (!IsValidTaskId(task_id)) return RecordPtr();
  if (auto hit = cache_.Get(task_id)) return *hit;
  // Filled under the stripe lock, so a concurrent Mutate's newer copy is
  // never replaced by this older read.
  std::lock_guard lock(StripeFor(task_id));
  if (auto hit = cache_.Get(task_id)) return *hit;
  TC_ASSIGN_OR_RETURN(RecordPtr record, Load(storage, task_id));
  if (record) cache_.Put(std::string(task_id), record);
  return record;
}

Result<TaskStore::RecordPtr> TaskStore::Peek(logical::Storage& storage, std::string_view task_id) {
  if (!IsValidTaskId(task_id)) return RecordPtr();
  if (auto hit = cache_.Get(task_id)) return *hit;
  return Load(storage, task_id);
}

namespace {

std::string ChildrenPrefix(std::string_view parent_id) {
  std::string key(kChildrenPrefix);
  key.append(parent_id).push_back('/');
  return key;
}

}  // namespace

Result<bool> TaskStore::AddChild(logical::Storage& storage, std::string_view parent_id, const TaskRecord::Child& child,
                                 const std::function<bool(const TaskRecord&)>& admit) {
  bool added = false;
  auto add = [&](std::optional<TaskRecord>& parent) -> Result<bool> {
    if (!parent || !admit(*parent)) return false;
    if (!parent->delegable) {
      parent->delegable = true;  // written first (a second pass adds the child)
      return true;
    }
    nlohmann::json value = {{"status_list", child.status_list}, {"status_idx", child.status_idx}};
    TC_RETURN_IF_ERROR(storage.Put({ChildrenPrefix(parent_id) + child.task_id, DumpJson(value), false}));
    added = true;
    return false;
  };
  TC_RETURN_IF_ERROR(Mutate(storage, parent_id, add));
  if (!added) TC_RETURN_IF_ERROR(Mutate(storage, parent_id, add));  // (after marking it delegable)
  return added;
}

Result<std::vector<TaskRecord::Child>> TaskStore::Children(logical::Storage& storage, std::string_view task_id) {
  std::vector<TaskRecord::Child> out;
  if (!IsValidTaskId(task_id)) return out;
  const std::string prefix = ChildrenPrefix(task_id);
  TC_ASSIGN_OR_RETURN(std::vector<std::string> ids, storage.List(prefix));
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    if (!IsValidTaskId(id)) continue;
    TC_ASSIGN_OR_RETURN(std::optional<logical::StorageEntry> entry, storage.Get(prefix + id));
    if (!entry) continue;
    TC_ASSIGN_OR_RETURN(nlohmann::json j, ParseStoredJson(entry->value, "task child"));
    TaskRecord::Child child{id, {}, -1};
    TC_RETURN_IF_ERROR(ReadMember(j, "status_list", child.status_list));
    TC_RETURN_IF_ERROR(ReadMember(j, "status_idx", child.status_idx));
    out.push_back(std::move(child));
  }
  return out;
}

Result<std::optional<TaskRecord>> TaskStore::Get(logical::Storage& storage, std::string_view task_id) {
  TC_ASSIGN_OR_RETURN(RecordPtr record, GetShared(storage, task_id));
  if (!record) return std::optional<TaskRecord>();
  return std::optional<TaskRecord>(*record);
}

Status TaskStore::Create(logical::Storage& storage, const TaskRecord& record) {
  if (!IsValidTaskId(record.task_id)) return Status::Internal("invalid task id");
  if (IsHourKeyed(record.task_id)) {
    if (!FitsItsHour(record)) return Status::Internal("task id does not name the record's horizon hour");
  } else {
    TC_RETURN_IF_ERROR(storage.Put({IndexKey(record.expires_at, record.task_id), "", false}));
  }
  TC_RETURN_IF_ERROR(storage.Put({RecordKey(record.task_id), DumpJson(record.ToJson()), false}));
  cache_.Put(record.task_id, std::make_shared<const TaskRecord>(record));
  return Status::Ok();
}

Status TaskStore::Mutate(logical::Storage& storage, std::string_view task_id, const Mutation& fn) {
  std::lock_guard lock(StripeFor(task_id));
  RecordPtr current;
  if (IsValidTaskId(task_id)) {
    if (auto hit = cache_.Get(task_id)) {
      current = *hit;
    } else {
      TC_ASSIGN_OR_RETURN(current, Load(storage, task_id));
      if (current) cache_.Put(std::string(task_id), current);
    }
  }
  std::optional<TaskRecord> record;
  if (current) record = *current;
  int64_t old_expiry = record ? record->expires_at : 0;
  bool ended = record && record->Ended();
  TC_ASSIGN_OR_RETURN(bool write, fn(record));
  if (!write || !record) return Status::Ok();
  if (record->task_id != task_id) return Status::Internal("a task record's id cannot change");
  if (!ended && record->Ended() && on_end_) {
    // Published before the hook runs: a delegation that re-reads its
    // parent after recording a child sees the end, or the hook sees the
    // child (Delegator). Dropped again if the hook or the write fails.
    cache_.Put(std::string(task_id), std::make_shared<const TaskRecord>(*record));
    if (Status hooked = on_end_(storage, *record); !hooked.ok()) {
      cache_.Erase(task_id);
      return hooked;
    }
  }
  Status written = Status::Ok();
  if (IsHourKeyed(task_id)) {
    if (!FitsItsHour(*record)) return Status::Internal("task record would outlive its storage hour");
  } else if (record->expires_at != old_expiry &&
             IndexKey(record->expires_at, record->task_id) != IndexKey(old_expiry, record->task_id)) {
    written = storage.Put({IndexKey(record->expires_at, record->task_id), "", false});
  }
  if (written.ok()) written = storage.Put({RecordKey(record->task_id), DumpJson(record->ToJson()), false});
  if (!written.ok()) {
    cache_.Erase(task_id);  // the stored state is unknown: read it again next time
    return written;
  }
  std::string id = record->task_id;  // (not an argument beside the move of *record)
  cache_.Put(std::move(id), std::make_shared<const TaskRecord>(std::move(*record)));
  return Status::Ok();
}

Result<std::vector<std::string>> TaskStore::ListPage(logical::Storage& storage, std::string_view after,
                                                     int limit) {
  TC_ASSIGN_OR_RETURN(std::vector<std::string> top, storage.List(kTaskPrefix));
  std::vector<std::string> ids;
  std::vector<std::string> hours;
  for (std::string& entry : top) {
    if (HourFolder(entry) >= 0) {
      hours.push_back(std::move(entry));
    } else if (IsValidTaskId(entry) && entry > after) {
      ids.push_back(std::move(entry));  // a version-4 record
    }
  }
  std::sort(hours.begin(), hours.end());
  // An hour's ids begin with its digits: hours before `after`'s hold no id
  // after it, and hours are visited in id order until `limit` ids are found.
  std::string_view after_hour = after.substr(0, std::min(after.size(), kHourDigits));
  size_t hour_keyed = 0;
  for (const std::string& hour : hours) {
    if (std::string_view(hour).substr(0, kHourDigits) < after_hour) continue;
    if (limit > 0 && hour_keyed >= static_cast<size_t>(limit)) break;
    TC_ASSIGN_OR_RETURN(std::vector<std::string> in_hour,
                        storage.ListPage(std::string(kTaskPrefix) + hour, after, limit));
    for (std::string& id : in_hour) {
      if (!IsValidTaskId(id) || id <= after) continue;
      ids.push_back(std::move(id));
      ++hour_keyed;
    }
  }
  std::sort(ids.begin(), ids.end());
  if (limit > 0 && ids.size() > static_cast<size_t>(limit)) ids.resize(static_cast<size_t>(limit));
  return ids;
}

Result<TidyCounts> TaskStore::Tidy(logical::Storage& storage, int64_t now, int64_t margin) {
  TidyCounts counts;
  TC_ASSIGN_OR_RETURN(std::vector<std::string> top, storage.List(kTaskPrefix));
  TC_RETURN_IF_ERROR(TidyHours(storage, top, now, margin, counts));
  TC_RETURN_IF_ERROR(TidyLegacy(storage, now, margin, counts));
  return counts;
}

Status TaskStore::DeleteIfPast(logical::Storage& storage, const std::string& task_id, int64_t now, int64_t margin,
                               TidyCounts& counts) {
  std::lock_guard lock(StripeFor(task_id));
  TC_ASSIGN_OR_RETURN(RecordPtr record, Load(storage, task_id));  // (the stripe lock is held)
  if (record && record->expires_at + margin <= now) {
    cache_.Erase(task_id);
    if (record->delegable) {
      // Its children entries go with it (the children end no later).
      const std::string prefix = ChildrenPrefix(task_id);
      TC_ASSIGN_OR_RETURN(std::vector<std::string> children, storage.List(prefix));
      for (const std::string& child : children) TC_RETURN_IF_ERROR(storage.Delete(prefix + child));
    }
    TC_RETURN_IF_ERROR(storage.Delete(RecordKey(task_id)));
    ++counts.tasks_deleted;
    if (!record->Confirmed()) counts.unconfirmed.push_back(*record);
  }
  return Status::Ok();
}

Status TaskStore::TidyHours(logical::Storage& storage, const std::vector<std::string>& top, int64_t now,
                            int64_t margin, TidyCounts& counts) {
  std::vector<std::pair<int64_t, std::string>> hours;
  for (const std::string& entry : top) {
    if (int64_t hour = HourFolder(entry); hour >= 0) hours.emplace_back(hour, entry);
  }
  std::sort(hours.begin(), hours.end());
  for (const auto& [hour, name] : hours) {
    // Every record in the hour has its horizon before the hour's end.
    if ((hour + 1) * kExpiryBucketSeconds + margin > now) break;  // sorted: every later hour is newer
    ++counts.buckets_scanned;
    TC_ASSIGN_OR_RETURN(std::vector<std::string> ids, storage.List(std::string(kTaskPrefix) + name));
    for (const std::string& id : ids) {
      if (!IsValidTaskId(id)) continue;
      TC_RETURN_IF_ERROR(DeleteIfPast(storage, id, now, margin, counts));
    }
  }
  return Status::Ok();
}

Status TaskStore::TidyLegacy(logical::Storage& storage, int64_t now, int64_t margin, TidyCounts& counts) {
  TC_ASSIGN_OR_RETURN(std::vector<std::string> buckets, storage.List(kExpiryPrefix));
  std::sort(buckets.begin(), buckets.end());
  for (const std::string& name : buckets) {
    if (name.size() < 2 || name.back() != '/') continue;
    std::string_view digits(name.data(), name.size() - 1);
    int64_t bucket = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bucket);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) continue;
    if (bucket + kExpiryBucketSeconds + margin > now) break;  // sorted: every later bucket is newer
    ++counts.buckets_scanned;
    std::string prefix = std::string(kExpiryPrefix) + name;
    TC_ASSIGN_OR_RETURN(std::vector<std::string> ids, storage.List(prefix));
    for (const std::string& id : ids) {
      TC_RETURN_IF_ERROR(DeleteIfPast(storage, id, now, margin, counts));
      // Either deleted, absent, or renewed into a later bucket (indexed there).
      TC_RETURN_IF_ERROR(storage.Delete(prefix + id));
      ++counts.index_entries_deleted;
    }
  }
  return Status::Ok();
}

}  // namespace taskcred::engine
