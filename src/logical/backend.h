// Backend: what the runtime serves to Vault, and how one is made.
//
// The runtime calls a BackendFactory once per mount (per Setup) and then the
// Backend's methods, concurrently, until Cleanup. A Backend must be safe for
// concurrent use. Type() and SpecialPaths() must not touch storage and must
// answer the same in every mode (Vault compares them across processes).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "logical/request.h"

namespace taskcred::logical {

enum class BackendType { kUnknown = 0, kLogical = 1, kCredential = 2 };

// Path patterns with special treatment (exact, or prefix with trailing '*').
struct Paths {
  std::vector<std::string> root{};
  std::vector<std::string> unauthenticated{};
  std::vector<std::string> local_storage{};
  std::vector<std::string> seal_wrap_storage{};
  std::vector<std::string> write_forwarded_storage{};
  bool operator==(const Paths&) const = default;
};

struct ExistenceCheckResult {
  bool check_found = false;  // false: the path has no existence check
  bool exists = false;
};

using HandlerResult = common::Result<std::optional<Response>>;

// The largest request a backend takes unless it says otherwise: the whole
// serialized request as the plugin receives it (the body Vault forwards plus
// its envelope of path, headers and token). Vault itself takes bodies up to
// 32 MB; requests to a secrets engine are rarely above a few kilobytes.
inline constexpr size_t kDefaultMaxRequestBytes = 1024 * 1024;

class Backend {
 public:
  virtual ~Backend() = default;

  // First storage access after Setup. `storage`/`system_view` valid for the call.
  virtual common::Status Initialize(Storage& storage, SystemView& system_view) = 0;

  // std::nullopt = Go's nil response (404 on read, 204 on write).
  virtual HandlerResult HandleRequest(Request& request) = 0;
  virtual common::Result<ExistenceCheckResult> HandleExistenceCheck(Request& request) = 0;

  virtual Paths SpecialPaths() const = 0;
  virtual BackendType Type() const = 0;

  // Requests larger than this (serialized, as received) are refused with a
  // 413 before they are parsed. Called once per request: keep it cheap.
  virtual size_t MaxRequestBytes() const { return kDefaultMaxRequestBytes; }

  // A storage key changed elsewhere (replication, standby): drop caches.
  virtual void InvalidateKey(std::string_view key) = 0;
  // Unmount/seal/reload. No calls follow.
  virtual void Cleanup() = 0;
};

struct BackendConfig {
  std::map<std::string, std::string> config;  // mount options + plugin_name, plugin_type, ...
  std::string backend_uuid;
  // Storage/SystemView without a request deadline (for background work).
  std::shared_ptr<Storage> storage;
  std::shared_ptr<SystemView> system_view;
  common::Logger logger;
};

// Builds one backend instance. Must succeed with an empty config (Vault's
// registration-time Setup) and must not touch storage.
using BackendFactory = std::function<common::Result<std::unique_ptr<Backend>>(const BackendConfig&)>;

}  // namespace taskcred::logical
