#include "engine/engine.h"

#include <charconv>
#include <map>
#include <utility>

#include "engine/services.h"
#include "engine/storage_keys.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kBackendHelp = R"(
The taskcred secrets engine issues task-scoped credentials: a credential good
for one run of one task, on the resources that run needs, for the time it runs.
A role is a task template; reading creds/<role> instantiates it and returns the
credential as a lease, which dies with the lease. Resource services verify
JWTs offline against jwks (or .well-known/jwks.json) or ask introspect.
)";

}  // namespace

common::Status Services::Periodic(logical::Storage& storage) {
  int64_t now = UnixSeconds(clock());
  TC_ASSIGN_OR_RETURN(ConfigEntry current, config.Get(storage));
  TC_ASSIGN_OR_RETURN(RingChange change, keys.Maintain(storage, current));
  if (change.rotated) {
    logger.Info("signing key rotated (rotation_period)",
                {{"active_kid", change.active_kid}, {"next_kid", change.next_kid}});
  }
  for (const auto& kid : change.pruned_kids) logger.Info("retired signing key pruned", {{"kid", kid}});
  TC_ASSIGN_OR_RETURN(TidyCounts counts, TidyTasks(storage, now));
  if (counts.tasks_deleted > 0) logger.Debug("periodic tidy", {{"tasks_deleted", counts.tasks_deleted}});
  TC_ASSIGN_OR_RETURN(SweepCounts swept, live.Sweep(storage));
  if (swept.lapsed > 0) {
    logger.Info("tasks ended: heartbeat missed", {{"tasks", swept.lapsed}});
  }
  return common::Status::Ok();
}

common::Result<TidyCounts> Services::TidyTasks(logical::Storage& storage, int64_t now) {
  TC_ASSIGN_OR_RETURN(TidyCounts counts, tasks.Tidy(storage, now));
  // A list holds credentials of one horizon hour, as the records' hours do:
  // it goes with them.
  TC_ASSIGN_OR_RETURN(counts.status_lists_deleted, status.Tidy(storage, now, kTidySafetyMargin));
  // Bounded: a log line per task up to a limit, then one summary.
  constexpr size_t kMaxLines = 100;
  for (size_t i = 0; i < counts.unconfirmed.size() && i < kMaxLines; ++i) {
    const TaskRecord& r = counts.unconfirmed[i];
    logger.Warn("tidied a task that was never confirmed: Vault never revoked or renewed its lease and it was "
                "never used, so its issuance's answer was probably lost (no credential reached anyone)",
                {{"task_id", r.task_id}, {"role", r.role}, {"issued_at", Rfc3339(r.issued_at)}});
  }
  if (counts.unconfirmed.size() > kMaxLines) {
    logger.Warn("tidied more unconfirmed tasks than were logged",
                {{"unconfirmed", counts.unconfirmed.size()}, {"logged", kMaxLines}});
  }
  return counts;
}

namespace {

common::Status SetStatusBit(StatusStore& status, logical::Storage& storage, const std::string& list, int64_t idx) {
  if (list.empty()) return common::Status::Ok();
  if (idx < 0 || idx >= StatusStore::kListSlots) {
    return common::Status::Internal("task record has an invalid status index");
  }
  return status.Invalidate(storage, {list, static_cast<uint32_t>(idx)});
}

}  // namespace

common::Status Services::OnTaskEnd(logical::Storage& storage, const TaskRecord& record) {
  TC_RETURN_IF_ERROR(SetStatusBit(status, storage, record.status_list, record.status_idx));
  if (record.delegable) TC_RETURN_IF_ERROR(EndDescendants(storage, record.task_id, 1));
  return live.Ended(storage, record);
}

common::Status Services::EndDescendants(logical::Storage& storage, std::string_view parent_id, int64_t depth) {
  if (depth > kMaxDelegationDepth) return common::Status::Ok();  // (records never chain deeper)
  TC_ASSIGN_OR_RETURN(std::vector<TaskRecord::Child> children, tasks.Children(storage, parent_id));
  for (const TaskRecord::Child& child : children) {
    TC_RETURN_IF_ERROR(SetStatusBit(status, storage, child.status_list, child.status_idx));
    // Peek: this runs under the ended task's lock, and a child's lock may be
    // the same stripe. A child not written yet has no children of its own.
    TC_ASSIGN_OR_RETURN(TaskStore::RecordPtr record, tasks.Peek(storage, child.task_id));
    if (record && record->delegable) {
      TC_RETURN_IF_ERROR(EndDescendants(storage, child.task_id, depth + 1));
    }
  }
  return common::Status::Ok();
}

void Services::Invalidate(std::string_view key) {
  if (key == kConfigKey) {
    config.Invalidate();
  } else if (key == kKeyRingKey) {
    keys.Invalidate();
  } else if (key.starts_with(kLivePrefix)) {
    live.InvalidateKey(key);
  } else if (key.starts_with(kStatusPrefix)) {
    status.InvalidateKey(key);
  } else if (key.substr(0, kRolePrefix.size()) == kRolePrefix) {
    roles.Invalidate(key.substr(kRolePrefix.size()));
  } else if (key.substr(0, kTaskPrefix.size()) == kTaskPrefix) {
    // tasks/<hour>/<task_id> or a legacy tasks/<task_id>: the id is the last part.
    tasks.Invalidate(key.substr(key.rfind('/') + 1));
  }
}

namespace {

// The mount option task_cache_size (`vault secrets enable -options=...`):
// task records and verified JWTs kept in memory, 0 to 1,000,000.
common::Result<size_t> TaskCacheSize(const std::map<std::string, std::string>& options) {
  auto it = options.find("task_cache_size");
  if (it == options.end() || it->second.empty()) return kDefaultTaskCacheSize;
  const std::string& v = it->second;
  size_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || ptr != v.data() + v.size() || n > 1000000) {
    return common::Status::InvalidArgument("task_cache_size: must be a whole number from 0 to 1000000, got \"" + v +
                                           "\"");
  }
  return n;
}

}  // namespace

common::Result<std::unique_ptr<framework::Backend>> NewBackend(const logical::BackendConfig& config,
                                                               EngineOptions options) {
  TC_ASSIGN_OR_RETURN(size_t cache_size, TaskCacheSize(config.config));
  auto s = std::make_shared<Services>(options.clock, config.logger.Named("engine"), cache_size);
  framework::BackendSpec spec;
  spec.help = kBackendHelp;
  spec.paths = framework::PathAppend({ConfigPaths(s), KeyPaths(s), RolePaths(s), CredsPaths(s),
                                      IntrospectPaths(s), TaskPaths(s), TidyPaths(s), StatusPaths(s),
                                      DelegatePaths(s), HeartbeatPaths(s)});
  spec.secrets = {CredentialSecret(s)};
  // status/* covers status/<list_id> and the status/ list (list ids are in
  // every credential that names them).
  spec.special_paths.unauthenticated = {"jwks", ".well-known/jwks.json", ".well-known/openid-configuration",
                                        "status/*"};
  spec.special_paths.seal_wrap_storage = {std::string(kKeysPrefix)};
  spec.type = logical::BackendType::kLogical;
  spec.periodic = [s](logical::Request& req) { return s->Periodic(*req.storage); };
  // Create the key ring on the active node at mount time, so unauthenticated
  // JWKS reads (which may land on a standby) find it; creation stays lazy too.
  spec.initialize = [s](logical::Storage& storage, logical::SystemView&) -> common::Status {
    TC_ASSIGN_OR_RETURN(ConfigEntry current, s->config.Get(storage));
    TC_ASSIGN_OR_RETURN(ActiveKey key, s->keys.ActiveSigningKey(storage, current));
    (void)key;
    return common::Status::Ok();
  };
  spec.invalidate = [s](std::string_view key) { s->Invalidate(key); };
  spec.clean = [s] {
    s->config.Invalidate();
    s->keys.Invalidate();
    s->roles.Invalidate("");
    s->tasks.InvalidateAll();
    s->status_lists.Clear();
  };
  spec.logger = config.logger;
  spec.clock = options.clock;
  spec.max_request_bytes = [s] { return s->config.MaxRequestBytes(); };
  return framework::Backend::Create(std::move(spec));
}

logical::BackendFactory Factory(EngineOptions options) {
  return
      [options](const logical::BackendConfig& config) -> common::Result<std::unique_ptr<logical::Backend>> {
        TC_ASSIGN_OR_RETURN(std::unique_ptr<framework::Backend> backend, NewBackend(config, options));
        return std::unique_ptr<logical::Backend>(std::move(backend));
      };
}

logical::BackendFactory Factory() { return Factory(EngineOptions{}); }

}  // namespace taskcred::engine
