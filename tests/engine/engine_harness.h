// EngineHarness: one taskcred backend over InmemStorage, a FakeSystemView and
// a settable clock, driven with logical::Request objects (no process, no
// socket). Helpers mirror what Vault does: Write runs the existence check to
// choose create or update; Renew/Revoke carry the lease's secret.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/log.h"
#include "crypto/encoding.h"
#include "engine/engine.h"
#include "fake_system_view.h"
#include "framework/backend.h"
#include "logical/inmem_storage.h"

namespace taskcred::test {

// Collects log lines (to assert that secrets never reach the log).
class CaptureSink : public common::LogSink {
 public:
  void Write(std::string_view line) override {
    std::lock_guard lock(mu_);
    lines_.emplace_back(line);
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

class EngineHarness {
 public:
  // Starts at 2026-11-28T00:00:00Z.
  static constexpr int64_t kStart = 1795824000;

  EngineHarness() : EngineHarness(std::make_shared<logical::InmemStorage>()) {}
  // `mount_options`: what `vault secrets enable -options=...` passes (BackendConfig.config).
  explicit EngineHarness(std::shared_ptr<logical::Storage> storage,
                         std::map<std::string, std::string> mount_options = {})
      : storage_(std::move(storage)) {
    now_->store(kStart);
    logical::BackendConfig config;
    config.config = std::move(mount_options);
    config.logger = common::Logger("taskcred", common::LogLevel::kDebug, sink_);
    engine::EngineOptions options;
    auto now = now_;
    options.clock = [now] { return engine::FromUnixSeconds(now->load()); };
    auto backend = engine::NewBackend(config, options);
    if (!backend.ok()) throw std::runtime_error("NewBackend: " + backend.status().ToString());
    backend_ = std::move(backend).value();
  }

  framework::Backend& backend() { return *backend_; }
  logical::Storage& storage() { return *storage_; }
  FakeSystemView& system_view() { return system_view_; }
  CaptureSink& sink() { return *sink_; }

  int64_t now() const { return now_->load(); }
  void SetNow(int64_t t) { now_->store(t); }
  void Advance(int64_t seconds) { now_->fetch_add(seconds); }

  logical::Request NewRequest(logical::Operation op, std::string path,
                              nlohmann::json data = nlohmann::json::object()) {
    logical::Request req;
    req.operation = op;
    req.path = std::move(path);
    req.data = data.is_null() ? nlohmann::json::object() : std::move(data);
    req.storage = storage_.get();
    req.system_view = &system_view_;
    req.entity_id = entity_id;
    req.client_token_accessor = accessor;
    req.mount_point = "taskcred/";
    return req;
  }

  logical::HandlerResult Handle(logical::Request& req) { return backend_->HandleRequest(req); }

  logical::HandlerResult Read(const std::string& path, nlohmann::json data = nlohmann::json::object()) {
    auto req = NewRequest(logical::Operation::kRead, path, std::move(data));
    return Handle(req);
  }
  // Create or update, chosen by the existence check as Vault does.
  logical::HandlerResult Write(const std::string& path, nlohmann::json data = nlohmann::json::object()) {
    // Two requests, as Vault sends them: the check takes its request's data.
    auto probe = NewRequest(logical::Operation::kUpdate, path, data);
    auto exists = backend_->HandleExistenceCheck(probe);
    if (!exists.ok()) return exists.status();
    auto req = NewRequest(logical::Operation::kUpdate, path, std::move(data));
    if (exists->check_found && !exists->exists) req.operation = logical::Operation::kCreate;
    return Handle(req);
  }
  logical::HandlerResult Delete(const std::string& path) {
    auto req = NewRequest(logical::Operation::kDelete, path);
    return Handle(req);
  }
  logical::HandlerResult List(const std::string& path, nlohmann::json data = nlohmann::json::object()) {
    auto req = NewRequest(logical::Operation::kList, path, std::move(data));
    return Handle(req);
  }
  logical::HandlerResult Renew(const logical::Secret& secret,
                               std::chrono::seconds increment = std::chrono::seconds(0)) {
    auto req = NewRequest(logical::Operation::kRenew, "");
    req.secret = secret;
    req.secret->lease_options.increment = increment;
    return Handle(req);
  }
  logical::HandlerResult Revoke(const logical::Secret& secret) {
    auto req = NewRequest(logical::Operation::kRevoke, "");
    req.secret = secret;
    return Handle(req);
  }
  logical::HandlerResult Periodic() {
    auto req = NewRequest(logical::Operation::kRollback, "");
    return Handle(req);
  }

  // Introspects `token` (extra fields merged) and returns the data, or throws.
  nlohmann::json Introspect(const std::string& token, nlohmann::json extra = nlohmann::json::object()) {
    extra["token"] = token;
    auto r = Write("introspect", extra);
    if (!r.ok() || !r->has_value()) throw std::runtime_error("introspect failed: " + r.status().ToString());
    return (*r)->data;
  }

  // The JWKS as a JSON object (decoded from the raw response).
  nlohmann::json Jwks(const std::string& path = "jwks");

  std::string entity_id;
  std::string accessor = "acc-1234";

 private:
  std::shared_ptr<logical::Storage> storage_;
  FakeSystemView system_view_;
  std::shared_ptr<CaptureSink> sink_ = std::make_shared<CaptureSink>();
  std::shared_ptr<std::atomic<int64_t>> now_ = std::make_shared<std::atomic<int64_t>>(0);
  std::unique_ptr<framework::Backend> backend_;
};

inline nlohmann::json EngineHarness::Jwks(const std::string& path) {
  auto r = Read(path);
  if (!r.ok() || !r->has_value()) throw std::runtime_error("jwks read failed: " + r.status().ToString());
  const nlohmann::json& data = (*r)->data;
  auto body = crypto::Base64Decode(data.at("http_raw_body").get<std::string>());
  if (!body.ok()) throw std::runtime_error("jwks body is not base64");
  return nlohmann::json::parse(*body);
}

}  // namespace taskcred::test
