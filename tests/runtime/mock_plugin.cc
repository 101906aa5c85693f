// taskcred-mock-plugin: runtime::Serve with a small backend for protocol tests
// (in the spirit of OpenBao's sdk/plugin/mock). Paths:
//   kv/<key>        read/create/update/delete through the brokered storage (the
//                   whole request data is stored as JSON); list kv/; existence check
//   errors/<kind>   returns that ErrorKind (invalid_argument, permission_denied,
//                   unsupported_operation, unsupported_path, invalid_request,
//                   coded, unrecoverable, internal, unavailable, deadline_exceeded,
//                   throw)
//   secret          read issues a secret (internal data), renew echoes it, revoke succeeds
//   sleep           read sleeps data.ms milliseconds (deadline tests)
//   entity          read returns the caller's EntityInfo from the system view
//   env             read returns the system view's PluginEnv
#include <chrono>
#include <stdexcept>
#include <thread>

#include "fiber/fiber.h"
#include "runtime/serve.h"

namespace {

using taskcred::common::Result;
using taskcred::common::Status;
namespace tl = taskcred::logical;

class MockBackend : public tl::Backend {
 public:
  Status Initialize(tl::Storage& storage, tl::SystemView&) override {
    auto r = storage.Get("kv/.initialized");
    if (!r.ok()) return r.status().WithContext("initialize");
    return Status::Ok();
  }

  tl::HandlerResult HandleRequest(tl::Request& req) override {
    const std::string& p = req.path;
    if (p.rfind("kv/", 0) == 0) return Kv(req, p.substr(3));
    if (p.rfind("errors/", 0) == 0) return Error(p.substr(7));
    if (p == "secret") return SecretOp(req);
    if (p == "sleep") {
      int64_t ms = 0;
      if (auto it = req.data.find("ms"); it != req.data.end()) {
        if (it->is_number()) ms = it->get<int64_t>();
        else if (it->is_string()) ms = std::strtoll(it->get<std::string>().c_str(), nullptr, 10);
      }
      taskcred::fiber::SleepFor(std::chrono::milliseconds(ms));  // the behaviour under test
      tl::Response r;
      r.data = {{"slept_ms", ms}};
      return std::optional<tl::Response>(r);
    }
    if (p == "entity" && req.operation == tl::Operation::kRead) {
      auto e = req.system_view->EntityInfo(req.entity_id);
      if (!e.ok()) return e.status();
      tl::Response r;
      if (*e) {
        r.data = {{"id", (*e)->id}, {"name", (*e)->name}, {"metadata", (*e)->metadata}};
      } else {
        r.data = {{"id", nullptr}};
      }
      return std::optional<tl::Response>(r);
    }
    if (p == "env" && req.operation == tl::Operation::kRead) {
      auto e = req.system_view->PluginEnv();
      if (!e.ok()) return e.status();
      tl::Response r;
      r.data = {{"vault_version", e->vault_version}};
      return std::optional<tl::Response>(r);
    }
    if (req.operation == tl::Operation::kRollback) return std::optional<tl::Response>();
    return Status::UnsupportedPath("unsupported path: " + p);
  }

  Result<tl::ExistenceCheckResult> HandleExistenceCheck(tl::Request& req) override {
    if (req.path.rfind("kv/", 0) != 0) return tl::ExistenceCheckResult{};
    if (req.path.size() == 3) return Status::InvalidArgument("missing key");
    auto e = req.storage->Get(req.path);
    if (!e.ok()) return e.status();
    return tl::ExistenceCheckResult{true, e->has_value()};
  }

  tl::Paths SpecialPaths() const override {
    tl::Paths p;
    p.root = {"root/*"};
    p.unauthenticated = {"public/*"};
    p.local_storage = {"local/"};
    return p;
  }
  tl::BackendType Type() const override { return tl::BackendType::kLogical; }
  // Vault's own body limit: the kv paths carry 10 MiB values in the tests.
  size_t MaxRequestBytes() const override { return 32 * 1024 * 1024; }
  void InvalidateKey(std::string_view) override {}
  void Cleanup() override {}

 private:
  tl::HandlerResult Kv(tl::Request& req, const std::string& key) {
    tl::Storage& s = *req.storage;
    switch (req.operation) {
      case tl::Operation::kList: {
        auto keys = s.List("kv/" + key);
        if (!keys.ok()) return keys.status();
        tl::Response r;
        r.data = {{"keys", *keys}};
        return std::optional<tl::Response>(r);
      }
      case tl::Operation::kRead: {
        auto e = s.Get("kv/" + key);
        if (!e.ok()) return e.status();
        if (!*e) return std::optional<tl::Response>();
        auto j = nlohmann::json::parse((*e)->value, nullptr, false);
        if (j.is_discarded()) return Status::Internal("stored value is not JSON");
        tl::Response r;
        r.data = j;
        return std::optional<tl::Response>(r);
      }
      case tl::Operation::kCreate:
      case tl::Operation::kUpdate: {
        TC_RETURN_IF_ERROR(s.Put({"kv/" + key, req.data.dump(), false}));
        return std::optional<tl::Response>();
      }
      case tl::Operation::kDelete:
        TC_RETURN_IF_ERROR(s.Delete("kv/" + key));
        return std::optional<tl::Response>();
      default:
        return Status::UnsupportedOperation();
    }
  }

  static tl::HandlerResult Error(const std::string& kind) {
    if (kind == "invalid_argument") return Status::InvalidArgument("mock invalid argument");
    if (kind == "permission_denied") return Status::PermissionDenied("mock permission denied");
    if (kind == "unsupported_operation") return Status::UnsupportedOperation("mock unsupported operation");
    if (kind == "unsupported_path") return Status::UnsupportedPath("mock unsupported path");
    if (kind == "invalid_request") return Status::InvalidRequest("mock invalid request");
    if (kind == "coded") return Status::Coded(409, "mock conflict");
    if (kind == "unrecoverable") return Status::Unrecoverable("mock unrecoverable");
    if (kind == "internal") return Status::Internal("mock internal");
    if (kind == "unavailable") return Status::Unavailable("mock unavailable");
    if (kind == "deadline_exceeded") return Status::DeadlineExceeded("mock deadline exceeded");
    if (kind == "throw") throw std::runtime_error("mock exception");
    return Status::UnsupportedPath("unknown error kind: " + kind);
  }

  static tl::HandlerResult SecretOp(tl::Request& req) {
    tl::Response r;
    switch (req.operation) {
      case tl::Operation::kRead: {
        tl::Secret s;
        s.lease_options.ttl = std::chrono::hours(1);
        s.lease_options.renewable = true;
        s.internal_data = {{"secret_type", "mock"}, {"username", "u1"}};
        r.secret = s;
        r.data = {{"username", "u1"}, {"password", "mock-password"}};
        return std::optional<tl::Response>(r);
      }
      case tl::Operation::kRenew: {
        if (!req.secret) return Status::InvalidRequest("renew without a secret");
        tl::Secret s = *req.secret;
        s.lease_options.ttl = std::chrono::hours(1);
        r.secret = s;
        r.data = req.data;
        return std::optional<tl::Response>(r);
      }
      case tl::Operation::kRevoke:
        if (!req.secret) return Status::InvalidRequest("revoke without a secret");
        return std::optional<tl::Response>();
      default:
        return Status::UnsupportedOperation();
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  taskcred::runtime::ServeOptions opts;
  opts.plugin_name = "taskcred-mock-plugin";
  opts.version = "";  // the project version
  opts.logger_module = "taskcred-mock";
  return taskcred::runtime::Serve(
      argc, argv,
      [](const tl::BackendConfig&) -> Result<std::unique_ptr<tl::Backend>> {
        return std::unique_ptr<tl::Backend>(std::make_unique<MockBackend>());
      },
      opts);
}
