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

class SystemView {
 public:
  virtual ~SystemView() = default;
  // Mount-tuned default and maximum lease TTLs.
  virtual Result<std::chrono::seconds> DefaultLeaseTTL() = 0;
  virtual Result<std::chrono::seconds> MaxLeaseTTL() = 0;
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
