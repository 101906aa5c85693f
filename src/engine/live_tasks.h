// LiveTasks: the live tasks of roles that limit or watch them
// (max_live_tasks, unique_instance, heartbeat_ttl; RoleEntry::Tracked).
//
//   live/<role>/<task_id>   empty marker, written when such a task is
//                           issued and deleted when it ends (EndHook) or
//                           when the periodic sweep finds it expired
//
// Admission is exact on one node: the live set of a capped role is kept in
// memory (loaded from the markers and their records on first use after a
// start or an InvalidateKey) and a place in it is taken before anything is
// signed or written, under a lock no request holds across a storage call.
// Only tasks issued by creds count (a delegated task lives within its
// parent's life, and its parent's place). A live task is one not expired,
// revoked, released or used up; a missed heartbeat stops counting once the
// sweep records it (Vault's periodic call, about once a minute).
// Safe for concurrent use.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/clock.h"
#include "engine/task_store.h"
#include "fiber/mutex.h"
#include "logical/storage.h"

namespace taskcred::engine {

inline constexpr std::string_view kLivePrefix = "live/";

// The role's limits an admission is checked against.
struct LiveLimits {
  int64_t max_live_tasks = 0;  // 0 = unlimited
  bool unique_instance = false;
};

struct SweepCounts {
  int64_t markers_deleted = 0;  // of tasks that expired or ended
  int64_t lapsed = 0;           // tasks whose missed heartbeat was recorded
};

class LiveTasks {
 public:
  LiveTasks(TaskStore& tasks, Clock clock) : tasks_(tasks), clock_(std::move(clock)) {}

  // Takes a place for `record` (a task of a tracked role, not yet written)
  // and writes its marker. Coded 429 naming max_live_tasks when the role
  // has that many live tasks; Coded 409 naming unique_instance when its
  // instance has one. Nothing is written then.
  common::Status Admit(logical::Storage& storage, const LiveLimits& limits, const TaskRecord& record);
  // Gives the place back: the task was not issued after all.
  void Abandon(logical::Storage& storage, const TaskRecord& record);
  // The task ended (TaskStore's EndHook): frees its place, deletes its marker.
  common::Status Ended(logical::Storage& storage, const TaskRecord& record);
  // Vault's periodic call: records missed heartbeats (a Mutate that sets
  // lapsed, which ends the task) and deletes the markers of tasks gone.
  common::Result<SweepCounts> Sweep(logical::Storage& storage);
  // Another node wrote `key` (live/...): reload that role's set when next needed.
  void InvalidateKey(std::string_view key);

  static std::string MarkerKey(std::string_view role, std::string_view task_id);

 private:
  struct Entry {
    std::string instance;
    int64_t expires_at = 0;
  };
  struct RoleState {
    fiber::Mutex load_mu;  // one load at a time; held across storage calls
    std::mutex mu;         // the members below; never held across a storage call
    bool loaded = false;
    std::map<std::string, Entry> live;     // by task id
    std::set<std::string> ended_in_load;  // ended while a load was reading
  };
  RoleState& StateFor(std::string_view role);
  common::Status Load(logical::Storage& storage, const std::string& role, RoleState& state);

  TaskStore& tasks_;
  Clock clock_;
  std::mutex roles_mu_;
  std::map<std::string, std::unique_ptr<RoleState>, std::less<>> roles_;
};

}  // namespace taskcred::engine
