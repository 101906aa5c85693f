// Backend::Impl: the compiled declaration of a framework Backend, shared by
// backend.cc, help.cc and openapi.cc. Internal; not part of the API.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framework/backend.h"
#include "framework/pattern.h"

namespace taskcred::framework {

struct CompiledPath {
  const Path* path = nullptr;  // into Impl::spec.paths
  CompiledPattern pattern;
  std::shared_ptr<const FieldSchemaList> fields;
};

struct Backend::Impl {
  BackendSpec spec;
  std::vector<CompiledPath> paths;
  std::vector<std::shared_ptr<const FieldSchemaList>> secret_fields;  // parallel to spec.secrets

  struct Routed {
    const CompiledPath* path;
    std::map<std::string, std::string> captures;
  };
  std::optional<Routed> Route(std::string_view path) const;

  std::chrono::system_clock::time_point Now() const;

  // backend.cc
  logical::HandlerResult HandleRevokeRenew(logical::Request& request) const;
  logical::HandlerResult HandleRollback(logical::Request& request) const;
  // Rolls back old WAL entries, appending failures to `errors`.
  common::Status RollbackWAL(logical::Request& request, std::vector<std::string>& errors) const;

  // help.cc
  logical::Response RootHelp(logical::Request& request) const;
  logical::Response PathHelp(const CompiledPath& path, logical::Request& request) const;

  // openapi.cc: a fresh document, and adding one path to it. DocumentPath
  // returns an error only for internal inconsistencies.
  static nlohmann::json NewDocument(std::string_view vault_version);
  common::Status DocumentPath(const CompiledPath& path, std::string_view request_response_prefix,
                              nlohmann::json& doc) const;
  nlohmann::json OpenAPI(std::string_view vault_version, std::string_view request_response_prefix) const;
};

// The vault version from the request's SystemView, "unknown" if none.
std::string VaultVersionOf(const logical::Request& request);

// Expands a path pattern into OpenAPI path templates ("roles/{name}") as
// Vault's expandPattern does; std::nullopt if the pattern uses regex features
// outside named captures that have no OpenAPI form (then the path is left out).
std::optional<std::vector<std::string>> ExpandPattern(std::string_view pattern);

// Vault's specialPathMatch: exact, prefix with trailing '*', '+' segment wildcards.
bool SpecialPathMatch(std::string_view path, const std::vector<std::string>& special_paths);

}  // namespace taskcred::framework
