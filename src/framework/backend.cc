// framework::Backend: construction checks and request dispatch.
#include "framework/backend.h"

#include <algorithm>
#include <exception>
#include <set>
#include <typeinfo>
#include <utility>

#include "framework/backend_impl.h"
#include "framework/field_internal.h"
#include "framework/wal.h"

namespace taskcred::framework {

using common::Result;
using common::Status;
using logical::Operation;
using nlohmann::json;

namespace {

constexpr std::chrono::minutes kDefaultWALRollbackMinAge{10};

std::string JoinBracketed(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += " ";
    out += SanitizeUtf8(items[i]);
  }
  return out + "]";
}

Status CheckFields(const FieldSchemaList& fields, std::string_view where) {
  std::set<std::string> seen;
  for (const FieldSchema& f : fields) {
    std::string ctx = std::string(where) + " field \"" + f.name + "\"";
    if (f.name.empty()) return Status::InvalidArgument(std::string(where) + ": a field has an empty name");
    if (!seen.insert(f.name).second) return Status::InvalidArgument(ctx + " is declared twice");
    if (!f.default_value.is_null()) {
      Result<json> parsed = ParseField(f, f.default_value);
      if (!parsed.ok()) return Status::InvalidArgument(ctx + ": bad default: " + parsed.status().message());
    }
    FieldSchema plain = f;
    plain.allowed_values.clear();
    for (const json& a : f.allowed_values) {
      Result<json> parsed = ParseField(plain, a);
      if (!parsed.ok()) {
        return Status::InvalidArgument(ctx + ": bad allowed value: " + parsed.status().message());
      }
    }
  }
  return Status::Ok();
}

bool IsPathOperation(Operation op) {
  switch (op) {
    case Operation::kCreate:
    case Operation::kRead:
    case Operation::kUpdate:
    case Operation::kPatch:
    case Operation::kDelete:
    case Operation::kList:
    case Operation::kHelp:
    case Operation::kAliasLookahead:
    case Operation::kResolveRole:
    case Operation::kHeader:
    case Operation::kScan: return true;
    case Operation::kRevoke:
    case Operation::kRenew:
    case Operation::kRollback: return false;
  }
  return false;
}

Status CheckPath(const Path& p, const CompiledPattern& pattern) {
  std::string where = "path \"" + p.pattern + "\"";
  TC_RETURN_IF_ERROR(CheckFields(p.fields, where));
  for (const std::string& name : pattern.capture_names()) {
    bool declared =
        std::any_of(p.fields.begin(), p.fields.end(), [&](const FieldSchema& f) { return f.name == name; });
    if (!declared) {
      return Status::InvalidArgument(where + ": capture \"" + name + "\" is not a declared field");
    }
  }
  for (const auto& [op, handler] : p.operations) {
    std::string op_ctx = where + " operation " + std::string(logical::OperationName(op));
    if (!IsPathOperation(op)) return Status::InvalidArgument(op_ctx + " is handled by the framework itself");
    if (!handler.callback) return Status::InvalidArgument(op_ctx + " has no handler");
    for (const ResponseDoc& r : handler.responses) {
      if (r.status < 100 || r.status > 599) {
        return Status::InvalidArgument(op_ctx + ": response status " + std::to_string(r.status) +
                                       " is not an HTTP status");
      }
      TC_RETURN_IF_ERROR(CheckFields(r.fields, op_ctx + " response"));
    }
  }
  return Status::Ok();
}

template <typename R, typename F>
R Guarded(const common::Logger& logger, std::string_view what, const logical::Request& req, F&& fn) {
  auto fail = [&](std::string_view kind) -> R {
    std::string id = GenerateUUID();
    logger.Error("unexpected exception", {{"id", id},
                                          {"in", std::string(what)},
                                          {"path", SanitizeUtf8(req.path)},
                                          {"operation", std::string(logical::OperationName(req.operation))},
                                          {"exception", std::string(kind)}});
    return R(Status::Internal("internal error, id " + id));
  };
  try {
    return fn();
  } catch (const std::exception& e) {
    return fail(typeid(e).name());
  } catch (...) {
    return fail("unknown");
  }
}

}  // namespace

std::optional<Backend::Impl::Routed> Backend::Impl::Route(std::string_view path) const {
  for (const CompiledPath& p : paths) {
    std::optional<std::map<std::string, std::string>> captures = p.pattern.Match(path);
    if (captures) return Routed{&p, std::move(*captures)};
  }
  return std::nullopt;
}

std::chrono::system_clock::time_point Backend::Impl::Now() const {
  return spec.clock ? spec.clock() : std::chrono::system_clock::now();
}

Result<std::unique_ptr<Backend>> Backend::Create(BackendSpec spec) {
  auto impl = std::make_unique<Impl>();
  impl->spec = std::move(spec);
  for (const Path& p : impl->spec.paths) {
    Result<CompiledPattern> pattern = CompiledPattern::Compile(p.pattern);
    if (!pattern.ok()) return pattern.status();
    TC_RETURN_IF_ERROR(CheckPath(p, *pattern));
    impl->paths.push_back(
        CompiledPath{&p, std::move(*pattern), std::make_shared<const FieldSchemaList>(p.fields)});
  }
  std::set<std::string> types;
  for (const SecretType& s : impl->spec.secrets) {
    if (s.type.empty()) return Status::InvalidArgument("a secret type has an empty name");
    if (!types.insert(s.type).second) {
      return Status::InvalidArgument("secret type \"" + s.type + "\" is declared twice");
    }
    TC_RETURN_IF_ERROR(CheckFields(s.fields, "secret type \"" + s.type + "\""));
    impl->secret_fields.push_back(std::make_shared<const FieldSchemaList>(s.fields));
  }
  return std::unique_ptr<Backend>(new Backend(std::move(impl)));
}

Backend::Backend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Backend::~Backend() = default;

Status Backend::Initialize(logical::Storage& storage, logical::SystemView& system_view) {
  if (!impl_->spec.initialize) return Status::Ok();
  logical::Request req;
  req.path = "";
  return Guarded<Status>(impl_->spec.logger, "initialize", req,
                         [&] { return impl_->spec.initialize(storage, system_view); });
}

logical::Paths Backend::SpecialPaths() const { return impl_->spec.special_paths; }
namespace {

// The request's fields for its FieldData. Only a path that takes arbitrary
// input has handlers that read request.data (a help request reads it too);
// everywhere else the body moves into the FieldData instead of being copied,
// and request.data is left an empty object (Vault sends an existence check
// and its operation as two requests, each decoded afresh).
json TakeFields(logical::Request& request, const Path& path) {
  if (!request.data.is_object()) return json::object();
  if (path.takes_arbitrary_input || request.operation == Operation::kHelp) return request.data;
  return std::exchange(request.data, json::object());
}

}  // namespace

logical::BackendType Backend::Type() const { return impl_->spec.type; }

size_t Backend::MaxRequestBytes() const {
  return impl_->spec.max_request_bytes ? impl_->spec.max_request_bytes() : logical::kDefaultMaxRequestBytes;
}

void Backend::InvalidateKey(std::string_view key) {
  if (!impl_->spec.invalidate) return;
  logical::Request req;
  req.path = std::string(key);
  (void)Guarded<Status>(impl_->spec.logger, "invalidate", req, [&] {
    impl_->spec.invalidate(key);
    return Status::Ok();
  });
}

void Backend::Cleanup() {
  if (!impl_->spec.clean) return;
  logical::Request req;
  (void)Guarded<Status>(impl_->spec.logger, "cleanup", req, [&] {
    impl_->spec.clean();
    return Status::Ok();
  });
}

const Path* Backend::Route(std::string_view path) const {
  std::optional<Impl::Routed> routed = impl_->Route(path);
  return routed ? routed->path->path : nullptr;
}

const SecretType* Backend::Secret(std::string_view type) const {
  for (const SecretType& s : impl_->spec.secrets) {
    if (s.type == type) return &s;
  }
  return nullptr;
}

const common::Logger& Backend::logger() const { return impl_->spec.logger; }

nlohmann::json Backend::OpenAPI(std::string_view vault_version,
                                std::string_view request_response_prefix) const {
  return impl_->OpenAPI(vault_version, request_response_prefix);
}

Result<logical::ExistenceCheckResult> Backend::HandleExistenceCheck(logical::Request& request) {
  if (request.operation != Operation::kCreate && request.operation != Operation::kUpdate) {
    return Status::Internal("incorrect operation type " +
                            std::string(logical::OperationName(request.operation)) +
                            " for an existence check");
  }
  std::optional<Impl::Routed> routed = impl_->Route(request.path);
  if (!routed) return Status::UnsupportedPath();
  const Path& path = *routed->path->path;
  if (!path.existence_check) return logical::ExistenceCheckResult{false, false};

  json raw = TakeFields(request, path);
  for (const auto& [k, v] : routed->captures) raw[k] = v;
  FieldData data(routed->path->fields, std::move(raw));
  TC_RETURN_IF_ERROR(data.Validate());
  return Guarded<Result<logical::ExistenceCheckResult>>(
      impl_->spec.logger, "existence check", request, [&]() -> Result<logical::ExistenceCheckResult> {
        TC_ASSIGN_OR_RETURN(bool exists, path.existence_check(request, data));
        return logical::ExistenceCheckResult{true, exists};
      });
}

namespace {

// Keeps a renewed lease whole: Vault replaces the stored secret and data with the renew response.
void CompleteRenewResponse(const logical::Request& req, std::string_view secret_type,
                           logical::Response& resp) {
  if (!resp.secret || !req.secret) return;
  logical::Secret& s = *resp.secret;
  if (!s.internal_data.is_object() || s.internal_data.empty()) s.internal_data = req.secret->internal_data;
  if (!s.internal_data.is_object()) s.internal_data = json::object();
  s.internal_data[std::string(kSecretTypeKey)] = std::string(secret_type);
  if (s.lease_options.issue_time == std::chrono::system_clock::time_point{}) {
    s.lease_options.issue_time = req.secret->lease_options.issue_time;
  }
  if (s.lease_options.issue_time == std::chrono::system_clock::time_point{}) {
    s.lease_options.issue_time = std::chrono::system_clock::now();
  }
  if ((resp.data.is_null() || resp.data.empty()) && req.data.is_object()) resp.data = req.data;
}

}  // namespace

logical::HandlerResult Backend::HandleRequest(logical::Request& request) {
  return Guarded<logical::HandlerResult>(
      impl_->spec.logger, "request", request, [&]() -> logical::HandlerResult {
        switch (request.operation) {
          case Operation::kRenew:
          case Operation::kRevoke: return impl_->HandleRevokeRenew(request);
          case Operation::kRollback: return impl_->HandleRollback(request);
          default: break;
        }
        if (request.path.empty() && request.operation == Operation::kHelp) {
          return std::optional<logical::Response>(impl_->RootHelp(request));
        }
        std::optional<Impl::Routed> routed = impl_->Route(request.path);
        if (!routed) return Status::UnsupportedPath();
        const Path& path = *routed->path->path;

        json raw = TakeFields(request, path);
        std::vector<std::string> ignored;
        if (!path.takes_arbitrary_input) {
          for (const auto& [k, v] : raw.items()) {
            if (std::none_of(path.fields.begin(), path.fields.end(),
                             [&key = k](const FieldSchema& f) { return f.name == key; })) {
              ignored.push_back(k);
            }
          }
        }
        std::vector<std::string> replaced;
        for (const auto& [k, v] : routed->captures) {
          auto it = raw.find(k);
          if (it != raw.end() && !it->is_null()) replaced.push_back(k);
          raw[k] = v;
        }

        auto op = path.operations.find(request.operation);
        if (op == path.operations.end()) {
          if (request.operation == Operation::kHelp) {
            return std::optional<logical::Response>(impl_->PathHelp(*routed->path, request));
          }
          return Status::UnsupportedOperation();
        }

        FieldData data(routed->path->fields, std::move(raw));
        if (request.operation != Operation::kHelp) {
          Status st = data.Validate();
          if (st.ok() &&
              (request.operation == Operation::kCreate || request.operation == Operation::kUpdate)) {
            st = data.ValidateRequired();
          }
          if (!st.ok()) return Status::InvalidArgument("Field validation failed: " + st.message());
        }

        logical::HandlerResult result = op->second.callback(request, data);
        if (result.ok() && result->has_value()) {
          logical::Response& resp = **result;
          std::sort(ignored.begin(), ignored.end());
          if (!ignored.empty()) {
            resp.AddWarning("Endpoint ignored these unrecognized parameters: " + JoinBracketed(ignored));
          }
          if (!replaced.empty()) {
            resp.AddWarning(
                "Endpoint replaced the value of these parameters with the values captured from the "
                "endpoint's path: " +
                JoinBracketed(replaced));
          }
        }
        return result;
      });
}

logical::HandlerResult Backend::Impl::HandleRevokeRenew(logical::Request& request) const {
  if (!request.secret) return Status::InvalidArgument("request has no secret");
  const json& internal = request.secret->internal_data;
  const SecretType* secret = nullptr;
  size_t index = 0;
  if (internal.is_object()) {
    auto it = internal.find(kSecretTypeKey);
    if (it != internal.end() && it->is_string()) {
      for (; index < spec.secrets.size(); ++index) {
        if (spec.secrets[index].type == it->get_ref<const std::string&>()) {
          secret = &spec.secrets[index];
          break;
        }
      }
    }
  }
  if (secret == nullptr) return Status::InvalidArgument("secret is unsupported by this backend");
  FieldData data(secret_fields[index], request.data);
  if (request.operation == Operation::kRevoke) {
    if (!secret->revoke) return Status::UnsupportedOperation();
    return secret->revoke(request, data);
  }
  if (!secret->renew) return Status::UnsupportedOperation();
  logical::HandlerResult result = secret->renew(request, data);
  if (result.ok() && result->has_value()) CompleteRenewResponse(request, secret->type, **result);
  return result;
}

logical::HandlerResult Backend::Impl::HandleRollback(logical::Request& request) const {
  std::vector<std::string> errors;
  if (spec.periodic) {
    Status st =
        Guarded<Status>(spec.logger, "periodic function", request, [&] { return spec.periodic(request); });
    if (!st.ok()) errors.push_back(st.message());
  }
  bool periodic_failed = !errors.empty();
  if (spec.wal_rollback && request.storage != nullptr) {
    TC_RETURN_IF_ERROR(RollbackWAL(request, errors));
  }
  if (errors.empty()) return std::optional<logical::Response>();
  std::string message =
      errors.size() == 1 ? errors.front() : std::to_string(errors.size()) + " errors occurred:";
  if (errors.size() > 1) {
    for (const std::string& e : errors) message += "\n\t* " + e;
  }
  // Go returns periodic failures as errors and WAL failures as error responses.
  if (periodic_failed) return Status::Internal(message);
  return Status::InvalidArgument(message);
}

Status Backend::Impl::RollbackWAL(logical::Request& request, std::vector<std::string>& errors) const {
  logical::Storage& storage = *request.storage;
  Result<std::vector<std::string>> ids = ListWAL(storage);
  if (!ids.ok()) {
    errors.push_back(ids.status().message());
    return Status::Ok();
  }
  auto age = spec.wal_rollback_min_age.count() > 0
                 ? std::chrono::duration_cast<std::chrono::system_clock::duration>(spec.wal_rollback_min_age)
                 : std::chrono::duration_cast<std::chrono::system_clock::duration>(kDefaultWALRollbackMinAge);
  auto now = Now();
  auto cutoff = now - age;
  if (request.data.is_object() && request.data.contains("immediate")) cutoff = now + std::chrono::hours(1000);

  for (const std::string& id : *ids) {
    Result<std::optional<WALEntry>> entry = GetWAL(storage, id);
    if (!entry.ok()) {
      errors.push_back(entry.status().message());
      continue;
    }
    if (!entry->has_value()) continue;
    const WALEntry& e = **entry;
    std::chrono::system_clock::time_point created{std::chrono::seconds(e.created_at)};
    if (!(created < cutoff)) continue;
    Status st = Guarded<Status>(spec.logger, "WAL rollback", request,
                                [&] { return spec.wal_rollback(request, e.kind, e.data); });
    if (!st.ok()) {
      errors.push_back("error rolling back \"" + SanitizeUtf8(e.kind) + "\" entry: " + st.message());
      continue;
    }
    Status del = DeleteWAL(storage, id);
    if (!del.ok()) errors.push_back(del.message());
  }
  return Status::Ok();
}

}  // namespace taskcred::framework
