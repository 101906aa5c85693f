// FakeSystemView: a SystemView with settable mount TTLs and entities, for
// engine tests. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "logical/system_view.h"

namespace taskcred::test {

class FakeSystemView : public logical::SystemView {
 public:
  void SetTtls(std::chrono::seconds default_ttl, std::chrono::seconds max_ttl) {
    std::lock_guard lock(mu_);
    default_ttl_ = default_ttl;
    max_ttl_ = max_ttl;
  }
  void AddEntity(logical::Entity entity) {
    std::lock_guard lock(mu_);
    entities_[entity.id] = std::move(entity);
  }
  int entity_lookups() const {
    std::lock_guard lock(mu_);
    return entity_lookups_;
  }

  common::Result<std::chrono::seconds> DefaultLeaseTTL() override {
    std::lock_guard lock(mu_);
    ++default_ttl_asks_;
    return default_ttl_;
  }
  common::Result<std::chrono::seconds> MaxLeaseTTL() override {
    std::lock_guard lock(mu_);
    ++max_ttl_asks_;
    return max_ttl_;
  }
  // How often each TTL was asked (each is a brokered call through Vault).
  int default_ttl_asks() const {
    std::lock_guard lock(mu_);
    return default_ttl_asks_;
  }
  int max_ttl_asks() const {
    std::lock_guard lock(mu_);
    return max_ttl_asks_;
  }
  common::Result<bool> Tainted() override { return false; }
  common::Result<bool> CachingDisabled() override { return false; }
  common::Result<bool> LocalMount() override { return false; }
  common::Result<uint32_t> ReplicationState() override { return 0u; }
  common::Result<std::optional<logical::Entity>> EntityInfo(const std::string& entity_id) override {
    std::lock_guard lock(mu_);
    ++entity_lookups_;
    auto it = entities_.find(entity_id);
    if (it == entities_.end()) return std::optional<logical::Entity>();
    return std::optional<logical::Entity>(it->second);
  }
  common::Result<std::vector<logical::Group>> GroupsForEntity(const std::string&) override {
    return std::vector<logical::Group>{};
  }
  common::Result<logical::PluginEnvironment> PluginEnv() override { return logical::PluginEnvironment{}; }

 private:
  mutable std::mutex mu_;
  std::chrono::seconds default_ttl_{3600};
  std::chrono::seconds max_ttl_{24 * 3600};
  int default_ttl_asks_ = 0;
  int max_ttl_asks_ = 0;
  std::map<std::string, logical::Entity> entities_;
  int entity_lookups_ = 0;
};

}  // namespace taskcred::test
