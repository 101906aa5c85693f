// Services: the domain services of one mount, shared by its path adapters.
//
// Built once per backend instance by engine.cc; path handlers hold a
// shared_ptr to it. Every service is safe for concurrent use; the struct
// itself is never mutated after construction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "engine/clock.h"
#include "engine/config.h"
#include "engine/delegator.h"
#include "engine/introspector.h"
#include "engine/issuer.h"
#include "engine/key_ring.h"
#include "engine/live_tasks.h"
#include "engine/role.h"
#include "engine/status_publisher.h"
#include "engine/status_store.h"
#include "engine/task_store.h"
#include "fiber/mutex.h"
#include "framework/path.h"
#include "framework/secret.h"

namespace taskcred::engine {

struct Services {
  // `cache_size`: task records and verified JWTs each kept in memory.
  Services(Clock c, common::Logger log, size_t cache_size = kDefaultTaskCacheSize)
      : clock(std::move(c)),
        logger(std::move(log)),
        keys(clock),
        tasks(cache_size,
              [this](logical::Storage& storage, const TaskRecord& r) { return OnTaskEnd(storage, r); }),
        live(tasks, clock),
        issuer(config, roles, keys, tasks, status, live, clock, logger),
        introspector(config, keys, tasks, clock, cache_size),
        delegator(roles, tasks, config, issuer, introspector, clock),
        status_lists(status, keys, clock) {}

  Clock clock;
  common::Logger logger;
  ConfigStore config;
  RoleStore roles;
  KeyRing keys;
  StatusStore status;
  TaskStore tasks;
  LiveTasks live;
  Issuer issuer;
  Introspector introspector;
  Delegator delegator;
  StatusPublisher status_lists;
  // Held across the check and the write of every request that can change
  // either side of a rule spanning entities (verification_ttl >= every
  // role's ttl/max_ttl: config writes and deletes, role writes), so two such
  // writes cannot each pass their check against the other's old state.
  // Fiber-aware: it suspends a request, not the event loop.
  fiber::Mutex settings_mu;

  // Periodic work (rollback): rotate/prune keys, tidy task records, sweep
  // missed heartbeats and the markers of tasks gone (LiveTasks).
  common::Status Periodic(logical::Storage& storage);
  // Tidies task records (tidy and Periodic); logs each unconfirmed task it
  // deletes at warn (an issuance whose answer was lost).
  common::Result<TidyCounts> TidyTasks(logical::Storage& storage, int64_t now);
  // Drops the cache that holds `key`.
  void Invalidate(std::string_view key);
  // TaskStore's EndHook: a task that ends sets its status list bit and
  // those of all its descendants (they end with it), and frees its place
  // among its role's live tasks.
  common::Status OnTaskEnd(logical::Storage& storage, const TaskRecord& record);
  // Sets the bits of the children recorded under `parent_id` and of their
  // descendants; `depth` bounds the walk (kMaxDelegationDepth).
  common::Status EndDescendants(logical::Storage& storage, std::string_view parent_id, int64_t depth);
};

// Path and secret declarations, one function per path_*.cc / secret_*.cc.
std::vector<framework::Path> ConfigPaths(std::shared_ptr<Services> s);
std::vector<framework::Path> KeyPaths(std::shared_ptr<Services> s);
std::vector<framework::Path> RolePaths(std::shared_ptr<Services> s);
std::vector<framework::Path> CredsPaths(std::shared_ptr<Services> s);
std::vector<framework::Path> IntrospectPaths(std::shared_ptr<Services> s);
std::vector<framework::Path> TaskPaths(std::shared_ptr<Services> s);
std::vector<framework::Path> TidyPaths(std::shared_ptr<Services> s);
std::vector<framework::Path> StatusPaths(std::shared_ptr<Services> s);
std::vector<framework::Path> DelegatePaths(std::shared_ptr<Services> s);
std::vector<framework::Path> HeartbeatPaths(std::shared_ptr<Services> s);
framework::SecretType CredentialSecret(std::shared_ptr<Services> s);

// Helpers shared by the path adapters.
// Request data minus `exclude` keys (the parameter values of creds/preview).
nlohmann::json ParameterValues(const logical::Request& req, std::initializer_list<std::string_view> exclude);
// The non-empty "token" field (introspect, release, delegate, heartbeat).
common::Result<std::string> RequiredToken(const framework::FieldData& d);
// dpop_proof with its method and url into `in` (both required with a proof).
common::Status ReadDpopProof(const framework::FieldData& d, IntrospectInput& in);
// token (sensitive), dpop_proof, method, url: the fields of a request made
// for the holder of a credential.
framework::FieldSchemaList HolderFields(std::string_view token_description);
// The request's dpop_jkt (creds, preview), std::nullopt when not given.
common::Result<std::optional<std::string>> DpopJktOf(const logical::Request& req);

}  // namespace taskcred::engine
