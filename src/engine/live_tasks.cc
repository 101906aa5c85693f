#include "engine/live_tasks.h"

#include <utility>
#include <vector>

namespace taskcred::engine {

using common::Result;
using common::Status;

std::string LiveTasks::MarkerKey(std::string_view role, std::string_view task_id) {
  std::string key(kLivePrefix);
  key.append(role).push_back('/');
  key.append(task_id);
  return key;
}

LiveTasks::RoleState& LiveTasks::StateFor(std::string_view role) {
  std::lock_guard lock(roles_mu_);
  auto it = roles_.find(role);
  if (it == roles_.end()) it = roles_.emplace(std::string(role), std::make_unique<RoleState>()).first;
  return *it->second;
}

Status LiveTasks::Load(logical::Storage& storage, const std::string& role, RoleState& state) {
  {
    std::lock_guard lock(state.mu);
    state.ended_in_load.clear();
  }
  TC_ASSIGN_OR_RETURN(std::vector<std::string> ids, storage.List(MarkerKey(role, "")));
  int64_t now = UnixSeconds(clock_());
  std::map<std::string, Entry> live;
  for (const std::string& id : ids) {
    TC_ASSIGN_OR_RETURN(TaskStore::RecordPtr record, tasks_.GetShared(storage, id));
    if (!record || record->Ended() || now >= record->expires_at || !record->ancestors.empty()) continue;
    live.emplace(id, Entry{record->instance, record->expires_at});
  }
  std::lock_guard lock(state.mu);
  for (const std::string& id : state.ended_in_load) live.erase(id);
  state.ended_in_load.clear();
  state.live = std::move(live);
  state.loaded = true;
  return Status::Ok();
}

Status LiveTasks::Admit(logical::Storage& storage, const LiveLimits& limits, const TaskRecord& record) {
  RoleState& state = StateFor(record.role);
  if (limits.max_live_tasks > 0 || limits.unique_instance) {
    {
      std::lock_guard load(state.load_mu);
      bool loaded;
      {
        std::lock_guard lock(state.mu);
        loaded = state.loaded;
      }
      if (!loaded) TC_RETURN_IF_ERROR(Load(storage, record.role, state));
    }
    std::lock_guard lock(state.mu);
    int64_t now = UnixSeconds(clock_());
    for (auto it = state.live.begin(); it != state.live.end();) {
      it = now >= it->second.expires_at ? state.live.erase(it) : std::next(it);
    }
    if (limits.max_live_tasks > 0 && static_cast<int64_t>(state.live.size()) >= limits.max_live_tasks) {
      return Status::Coded(429, "max_live_tasks: role \"" + record.role + "\" already has " +
                                    std::to_string(state.live.size()) +
                                    " live tasks, its limit; a task frees its place when it expires or is "
                                    "revoked, released or used up");
    }
    if (limits.unique_instance) {
      for (const auto& [id, entry] : state.live) {
        if (entry.instance == record.instance) {
          return Status::Coded(409, "unique_instance: role \"" + record.role + "\" already has a live task for " +
                                        (record.instance.empty() ? std::string("no instance")
                                                                 : "instance \"" + record.instance + "\"") +
                                        " (task " + id + ")");
        }
      }
    }
    state.live.emplace(record.task_id, Entry{record.instance, record.expires_at});
  }
  if (Status put = storage.Put({MarkerKey(record.role, record.task_id), "", false}); !put.ok()) {
    std::lock_guard lock(state.mu);
    state.live.erase(record.task_id);
    return put;
  }
  return Status::Ok();
}

void LiveTasks::Abandon(logical::Storage& storage, const TaskRecord& record) {
  RoleState& state = StateFor(record.role);
  {
    std::lock_guard lock(state.mu);
    state.live.erase(record.task_id);
  }
  // Best effort: a marker left behind names no record and the sweep deletes it.
  (void)storage.Delete(MarkerKey(record.role, record.task_id));
}

Status LiveTasks::Ended(logical::Storage& storage, const TaskRecord& record) {
  if (!record.tracked) return Status::Ok();
  RoleState& state = StateFor(record.role);
  {
    std::lock_guard lock(state.mu);
    state.live.erase(record.task_id);
    if (!state.loaded) state.ended_in_load.insert(record.task_id);
  }
  return storage.Delete(MarkerKey(record.role, record.task_id));
}

Result<SweepCounts> LiveTasks::Sweep(logical::Storage& storage) {
  SweepCounts counts;
  TC_ASSIGN_OR_RETURN(std::vector<std::string> roles, storage.List(kLivePrefix));
  for (const std::string& folder : roles) {
    if (folder.size() < 2 || folder.back() != '/') continue;
    std::string role = folder.substr(0, folder.size() - 1);
    TC_ASSIGN_OR_RETURN(std::vector<std::string> ids, storage.List(MarkerKey(role, "")));
    for (const std::string& id : ids) {
      int64_t now = UnixSeconds(clock_());
      TC_ASSIGN_OR_RETURN(TaskStore::RecordPtr record, tasks_.GetShared(storage, id));
      if (record && !record->Ended() && now < record->expires_at) {
        if (!record->HeartbeatMissed(now)) continue;
        // Recorded for good; the EndHook sets its status bit and deletes the marker.
        TC_RETURN_IF_ERROR(tasks_.Mutate(storage, id, [&](std::optional<TaskRecord>& r) -> Result<bool> {
          if (!r || r->Ended() || !r->HeartbeatMissed(now)) return false;
          r->lapsed = true;
          ++counts.lapsed;
          return true;
        }));
        continue;
      }
      RoleState& state = StateFor(role);
      {
        std::lock_guard lock(state.mu);
        state.live.erase(id);
      }
      TC_RETURN_IF_ERROR(storage.Delete(MarkerKey(role, id)));
      ++counts.markers_deleted;
    }
  }
  return counts;
}

void LiveTasks::InvalidateKey(std::string_view key) {
  std::string_view rest = key.substr(kLivePrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return;
  RoleState& state = StateFor(rest.substr(0, slash));
  std::lock_guard lock(state.mu);
  state.loaded = false;
}

}  // namespace taskcred::engine
