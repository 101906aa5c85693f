// FakeSystemView: a SystemView with settable mount TTLs and Vault version,
// for framework tests. Not thread-safe to mutate; reads are fine.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "logical/system_view.h"

namespace taskcred::test {

class FakeSystemView : public logical::SystemView {
 public:
  std::chrono::seconds default_ttl{std::chrono::hours(5)};
  std::chrono::seconds max_ttl{std::chrono::hours(30)};
  std::string vault_version = "1.15.0";

  common::Result<std::chrono::seconds> DefaultLeaseTTL() override { return default_ttl; }
  common::Result<std::chrono::seconds> MaxLeaseTTL() override { return max_ttl; }
  common::Result<bool> Tainted() override { return false; }
  common::Result<bool> CachingDisabled() override { return false; }
  common::Result<bool> LocalMount() override { return false; }
  common::Result<uint32_t> ReplicationState() override { return uint32_t{0}; }
  common::Result<std::optional<logical::Entity>> EntityInfo(const std::string&) override {
    return std::optional<logical::Entity>();
  }
  common::Result<std::vector<logical::Group>> GroupsForEntity(const std::string&) override {
    return std::vector<logical::Group>();
  }
  common::Result<logical::PluginEnvironment> PluginEnv() override {
    logical::PluginEnvironment env;
    env.vault_version = vault_version;
    return env;
  }
};

}  // namespace taskcred::test
