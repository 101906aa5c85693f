#include "engine/engine.h"

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
  TC_ASSIGN_OR_RETURN(TidyCounts counts, tasks.Tidy(storage, now));
  if (counts.tasks_deleted > 0) logger.Debug("periodic tidy", {{"tasks_deleted", counts.tasks_deleted}});
  return common::Status::Ok();
}

void Services::Invalidate(std::string_view key) {
  if (key == kConfigKey) {
    config.Invalidate();
  } else if (key == kKeyRingKey) {
    keys.Invalidate();
  } else if (key.substr(0, kRolePrefix.size()) == kRolePrefix) {
    roles.Invalidate(key.substr(kRolePrefix.size()));
  }
}

common::Result<std::unique_ptr<framework::Backend>> NewBackend(const logical::BackendConfig& config,
                                                               EngineOptions options) {
  auto s = std::make_shared<Services>(options.clock, config.logger.Named("engine"));
  framework::BackendSpec spec;
  spec.help = kBackendHelp;
  spec.paths = framework::PathAppend({ConfigPaths(s), KeyPaths(s), RolePaths(s), CredsPaths(s),
                                      IntrospectPaths(s), TaskPaths(s), TidyPaths(s)});
  spec.secrets = {CredentialSecret(s)};
  spec.special_paths.unauthenticated = {"jwks", ".well-known/jwks.json", ".well-known/openid-configuration"};
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
  };
  spec.logger = config.logger;
  spec.clock = options.clock;
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
