// framework::Backend: a logical::Backend built from declared Paths and
// SecretTypes, as Vault's framework.Backend.
//
// Backend::Create validates the declaration once (non-blank patterns that
// compile as RE2, captures declared as fields, no duplicate fields, defaults
// and allowed values that parse as their field type, unique secret types) and
// returns InvalidArgument describing the first problem; it never aborts.
//
// Requests: renew/revoke dispatch on internal_data["secret_type"]; rollback
// runs the periodic function then the WAL rollback; help on "" answers the
// overview and the OpenAPI document; everything else routes to the first
// path whose anchored pattern matches (no match: UnsupportedPath; no handler
// for the operation: UnsupportedOperation; help on a path answers its help).
// Request data merged with URL captures (captures win, with a warning) is
// validated before the handler runs (400 "Field validation failed: ...").
// Undeclared request keys add the warning "Endpoint ignored these
// unrecognized parameters: [a b]" unless the path takes arbitrary input.
// Exceptions thrown by handlers become Internal "internal error, id <id>" and
// an error log line carrying the id; they never propagate.
//
// Safe for concurrent use: the declaration is immutable after Create and the
// handlers must be thread-safe themselves.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "framework/decl_string.h"
#include "framework/path.h"
#include "framework/secret.h"
#include "logical/backend.h"

namespace taskcred::framework {

// Runs on every rollback operation (about once a minute per mount).
using PeriodicFunc = std::function<common::Status(logical::Request&)>;
// Undoes the side effect recorded by a WAL entry of `kind` with `data`.
using WALRollbackFunc =
    std::function<common::Status(logical::Request&, const std::string& kind, const nlohmann::json& data)>;
using InitializeFunc = std::function<common::Status(logical::Storage&, logical::SystemView&)>;
using InvalidateFunc = std::function<void(std::string_view key)>;
using CleanFunc = std::function<void()>;
using Clock = std::function<std::chrono::system_clock::time_point()>;

struct BackendSpec {
  DeclString help{};  // overview shown by `vault path-help <mount>`
  std::vector<Path> paths{};
  std::vector<SecretType> secrets{};
  logical::Paths special_paths{};
  logical::BackendType type = logical::BackendType::kLogical;
  PeriodicFunc periodic{};
  WALRollbackFunc wal_rollback{};
  std::chrono::seconds wal_rollback_min_age{0};  // 0 = 10 minutes
  InitializeFunc initialize{};
  InvalidateFunc invalidate{};
  CleanFunc clean{};
  common::Logger logger{"taskcred.framework"};
  Clock clock{};  // empty = system_clock::now (WAL ages)
  // The request size limit (logical::Backend::MaxRequestBytes); empty =
  // logical::kDefaultMaxRequestBytes. Called once per request.
  std::function<size_t()> max_request_bytes{};
};

class Backend final : public logical::Backend {
 public:
  static common::Result<std::unique_ptr<Backend>> Create(BackendSpec spec);

  ~Backend() override;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  common::Status Initialize(logical::Storage& storage, logical::SystemView& system_view) override;
  // Both take the request's fields: on a path that does not take arbitrary
  // input, request.data moves into the handler's FieldData (no copy of the
  // body) and is an empty object afterwards.
  logical::HandlerResult HandleRequest(logical::Request& request) override;
  common::Result<logical::ExistenceCheckResult> HandleExistenceCheck(logical::Request& request) override;
  logical::Paths SpecialPaths() const override;
  logical::BackendType Type() const override;
  size_t MaxRequestBytes() const override;
  void InvalidateKey(std::string_view key) override;
  void Cleanup() override;

  // The path `path` routes to, or nullptr.
  const Path* Route(std::string_view path) const;
  // The secret type named `type`, or nullptr.
  const SecretType* Secret(std::string_view type) const;
  const common::Logger& logger() const;

  // The OpenAPI 3.0.2 document for all paths (root help's "openapi").
  // `request_response_prefix` names request/response schemas as Vault does.
  nlohmann::json OpenAPI(std::string_view vault_version = "unknown",
                         std::string_view request_response_prefix = "") const;

  struct Impl;

 private:
  explicit Backend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_{};
};

}  // namespace taskcred::framework
