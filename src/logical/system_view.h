// SystemView: what the host tells a backend about its mount and the caller,
// as Vault's logical.SystemView. Implementations must be safe for concurrent use.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace taskcred::logical {

using common::Result;

struct Alias {
  std::string id;
  std::string mount_type;
  std::string mount_accessor;
  std::string name;
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::string> custom_metadata;
  bool local = false;
};

struct Entity {
  std::string id;
  std::string name;
  std::map<std::string, std::string> metadata;
  std::vector<Alias> aliases;
  bool disabled = false;
  std::string namespace_id;
};

struct Group {
  std::string id;
  std::string name;
  std::map<std::string, std::string> metadata;
  std::string namespace_id;
};

struct PluginEnvironment {
  std::string vault_version;
  std::string vault_version_prerelease;
  std::string vault_version_metadata;
};

// The mount's tuned lease TTLs (0 = the system default).
struct MountLeaseTTLs {
  std::chrono::seconds default_ttl{0};
  std::chrono::seconds max_ttl{0};
};

class SystemView {
 public:
  virtual ~SystemView() = default;
  // Mount-tuned default and maximum lease TTLs.
  virtual Result<std::chrono::seconds> DefaultLeaseTTL() = 0;
  virtual Result<std::chrono::seconds> MaxLeaseTTL() = 0;
  // Both of the above, for callers that need both (every TTL calculation).
  // This default asks one after the other; a host-backed view overrides it to
  // have both questions in flight at once.
  virtual Result<MountLeaseTTLs> LeaseTTLs() {
    MountLeaseTTLs out;
    TC_ASSIGN_OR_RETURN(out.default_ttl, DefaultLeaseTTL());
    TC_ASSIGN_OR_RETURN(out.max_ttl, MaxLeaseTTL());
    return out;
  }
  // True while the mount is being unmounted.
  virtual Result<bool> Tainted() = 0;
  virtual Result<bool> CachingDisabled() = 0;
  virtual Result<bool> LocalMount() = 0;
  virtual Result<uint32_t> ReplicationState() = 0;
  // std::nullopt if the entity does not exist.
  virtual Result<std::optional<Entity>> EntityInfo(const std::string& entity_id) = 0;
  virtual Result<std::vector<Group>> GroupsForEntity(const std::string& entity_id) = 0;
  virtual Result<PluginEnvironment> PluginEnv() = 0;
};

}  // namespace taskcred::logical
