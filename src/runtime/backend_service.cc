#include "runtime/backend_service.h"

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>

#include "runtime/async_call.h"
#include "runtime/grpc_clients.h"
#include "runtime/raw_request.h"
#include "runtime/startup_pages.h"
#include "runtime/translate.h"
#include "sdk/plugin/pb/backend.grpc.pb.h"

namespace taskcred::runtime {
namespace {

using common::Result;
using common::Status;
namespace tl = taskcred::logical;

constexpr std::string_view kSingleInstance = "single";

std::string NewErrorId() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::minstd_rand rng{std::random_device{}()};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%08x-%llu", static_cast<unsigned>(rng()),
                static_cast<unsigned long long>(counter.fetch_add(1)));
  return buf;
}

// Runs `body`; any exception is logged with an id and handed to `on_error`
// (which fills an in-band error and returns the gRPC status to send).
template <typename F, typename E>
grpc::Status Guard(ServerState& st, std::string_view rpc, F&& body, E&& on_error) {
  std::string what = "unknown exception";
  try {
    return body();
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::string id = NewErrorId();
  st.logger.Error("internal error in RPC", {{"rpc", std::string(rpc)}, {"error_id", id}, {"what", what}});
  return on_error("internal error in the plugin (error id " + id + ")");
}

// As above; the exception becomes a gRPC INTERNAL status.
template <typename F>
grpc::Status Guard(ServerState& st, std::string_view rpc, F&& body) {
  return Guard(st, rpc, std::forward<F>(body),
               [](const std::string& msg) { return grpc::Status(grpc::StatusCode::INTERNAL, msg); });
}

// pb.Backend with HandleRequest and HandleExistenceCheck taken as raw bytes:
// their size is checked against the backend's limit before anything is
// parsed, so an oversized body is refused without a copy of it being made.
using AsyncBackendService = ::pb::Backend::WithRawMethod_HandleRequest<
    ::pb::Backend::WithRawMethod_HandleExistenceCheck<::pb::Backend::AsyncService>>;

// In-band variant for RPCs whose reply has a ProtoError `err`.
template <typename Reply>
auto InBandError(Reply* reply) {
  return [reply](const std::string& msg) {
    reply->Clear();
    *reply->mutable_err() = EncodeProtoError(common::Status::Internal(msg));
    return grpc::Status::OK;
  };
}

std::shared_ptr<grpc::Channel> DialBroker(const ServerState& st, const ::plugin::ConnInfo& info) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);  // as on the server side (serve.cc)
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (st.mode == TlsMode::kPlaintext) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = st.tls.trust_pem;
    o.pem_private_key = st.tls.key_pem;
    o.pem_cert_chain = st.tls.cert_pem;
    creds = grpc::SslCredentials(o);
    args.SetSslTargetNameOverride(st.tls.broker_server_name);
  }
  std::string target = info.network() == "unix" ? "unix:" + info.address() : info.address();
  return grpc::CreateCustomChannel(target, creds, args);
}

// Fails every call: the storage handed to the factory for Type/SpecialPaths
// probes made before any Setup.
class NoStorage : public tl::Storage {
 public:
  Result<std::vector<std::string>> List(std::string_view) override { return Err(); }
  Result<std::optional<tl::StorageEntry>> Get(std::string_view) override { return Err(); }
  Status Put(const tl::StorageEntry&) override { return Err(); }
  Status Delete(std::string_view) override { return Err(); }

 private:
  static Status Err() { return Status::Unavailable("no storage: the host has not called Setup"); }
};

class NoSystemView : public tl::SystemView {
 public:
  Result<std::chrono::seconds> DefaultLeaseTTL() override { return Err(); }
  Result<std::chrono::seconds> MaxLeaseTTL() override { return Err(); }
  Result<bool> Tainted() override { return Err(); }
  Result<bool> CachingDisabled() override { return Err(); }
  Result<bool> LocalMount() override { return Err(); }
  Result<uint32_t> ReplicationState() override { return Err(); }
  Result<std::optional<tl::Entity>> EntityInfo(const std::string&) override { return Err(); }
  Result<std::vector<tl::Group>> GroupsForEntity(const std::string&) override { return Err(); }
  Result<tl::PluginEnvironment> PluginEnv() override { return Err(); }

 private:
  static Status Err() { return Status::Unavailable("no system view: the host has not called Setup"); }
};

struct Instance {
  std::unique_ptr<tl::Backend> backend;
  std::shared_ptr<grpc::Channel> channel;
  std::shared_ptr<GrpcStorage> storage;
  std::shared_ptr<GrpcSystemView> system_view;
};

Deadline RequestDeadline(const grpc::ServerContext* ctx) {
  auto d = ctx->deadline();
  if (d > std::chrono::system_clock::now() + std::chrono::hours(24 * 365)) return std::nullopt;
  return d;
}

// Runs `handle(request)` with the instance's storage and system view bound
// to the call's deadline (they live on this fiber's stack for the call).
template <typename F>
auto WithViews(const Instance& inst, const grpc::ServerContext* ctx, tl::Request& request, F&& handle) {
  Deadline dl = RequestDeadline(ctx);
  GrpcStorage storage = inst.storage->BoundTo(dl);
  GrpcSystemView sv = inst.system_view->BoundTo(dl);
  request.storage = &storage;
  request.system_view = &sv;
  return handle(request);
}

// Assigns a Result to `lhs` or returns its status as a gRPC error.
#define TC_GRPC_ASSIGN(lhs, rexpr) TC_GRPC_ASSIGN_IMPL_(TC_CONCAT_(tc_grpc_, __LINE__), lhs, rexpr)
#define TC_GRPC_ASSIGN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                         \
  if (!tmp.ok()) return ToGrpc(tmp.status()); \
  lhs = std::move(tmp).value()

}  // namespace

class BackendService::Impl {
 public:
  explicit Impl(ServerState& st) : st_(st) {}

  AsyncBackendService service;

  void ServeOn(EventLoop* loop) {
    auto* svc = &service;
    ServeUnary<::pb::SetupArgs, ::pb::SetupReply>(loop, TASKCRED_REQUEST(svc, Setup),
                                                  [this](auto* c, auto* a, auto* r) { return Setup(c, a, r); });
    ServeUnary<grpc::ByteBuffer, grpc::ByteBuffer>(
        loop, TASKCRED_REQUEST(svc, HandleRequest), [this](auto* c, auto* a, auto* r) { return HandleRequest(c, a, r); });
    ServeUnary<grpc::ByteBuffer, grpc::ByteBuffer>(
        loop, TASKCRED_REQUEST(svc, HandleExistenceCheck),
        [this](auto* c, auto* a, auto* r) { return HandleExistenceCheck(c, a, r); });
    ServeUnary<::pb::Empty, ::pb::SpecialPathsReply>(
        loop, TASKCRED_REQUEST(svc, SpecialPaths), [this](auto* c, auto* a, auto* r) { return SpecialPaths(c, a, r); });
    ServeUnary<::pb::Empty, ::pb::TypeReply>(loop, TASKCRED_REQUEST(svc, Type),
                                             [this](auto* c, auto* a, auto* r) { return Type(c, a, r); });
    ServeUnary<::pb::InitializeArgs, ::pb::InitializeReply>(
        loop, TASKCRED_REQUEST(svc, Initialize), [this](auto* c, auto* a, auto* r) { return Initialize(c, a, r); });
    ServeUnary<::pb::InvalidateKeyArgs, ::pb::Empty>(
        loop, TASKCRED_REQUEST(svc, InvalidateKey), [this](auto* c, auto* a, auto* r) { return InvalidateKey(c, a, r); });
    ServeUnary<::pb::Empty, ::pb::Empty>(loop, TASKCRED_REQUEST(svc, Cleanup),
                                         [this](auto* c, auto* a, auto* r) { return Cleanup(c, a, r); });
  }

 private:
  grpc::Status Setup(grpc::ServerContext* ctx, const ::pb::SetupArgs* args, ::pb::SetupReply* reply) {
    return Guard(st_, "Setup", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(std::string key, InstanceKey(ctx));
      auto info = st_.broker.Take(args->broker_id(), std::chrono::seconds(5));
      if (!info.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, info.status().message());
      auto inst = std::make_shared<Instance>();
      inst->channel = DialBroker(st_, *info);
      inst->storage = std::make_shared<GrpcStorage>(inst->channel);
      inst->system_view = std::make_shared<GrpcSystemView>(inst->channel);
      tl::BackendConfig cfg;
      cfg.config = std::map<std::string, std::string>(args->config().begin(), args->config().end());
      cfg.backend_uuid = args->backenduuid();
      cfg.storage = inst->storage;
      cfg.system_view = inst->system_view;
      cfg.logger = st_.logger.Named("backend");
      auto backend = st_.factory(cfg);
      if (!backend.ok()) {
        st_.logger.Error("backend setup failed", {{"error", backend.status().ToString()}});
        reply->set_err(SanitizeUtf8(backend.status().message()));
        return grpc::Status::OK;
      }
      inst->backend = std::move(backend).value();
      std::shared_ptr<Instance> old;
      {
        std::lock_guard<std::mutex> lock(mu_);
        old = std::exchange(instances_[key], inst);
      }
      if (old) old->backend->Cleanup();
      st_.logger.Debug("backend set up", {{"instance", key}, {"broker_id", args->broker_id()}});
      return grpc::Status::OK;
    });
  }

  grpc::Status HandleRequest(grpc::ServerContext* ctx, grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
    return ServeRaw<::pb::HandleRequestArgs, ::pb::HandleRequestReply>(
        "HandleRequest", ctx, in, out,
        [](const Status& too_large, ::pb::HandleRequestReply* reply) { EncodeHandlerResult(too_large, reply); },
        [&](Instance& inst, ::pb::HandleRequestArgs& args, ::pb::HandleRequestReply* reply) {
          auto req = FromProto(args.request());
          Release(args.mutable_request()->mutable_data());  // decoded into req->data
          if (!req.ok()) return EncodeHandlerResult(req.status(), reply);
          EncodeHandlerResult(
              WithViews(inst, ctx, *req, [&](tl::Request& bound) { return inst.backend->HandleRequest(bound); }),
              reply);
        });
  }

  grpc::Status HandleExistenceCheck(grpc::ServerContext* ctx, grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
    return ServeRaw<::pb::HandleExistenceCheckArgs, ::pb::HandleExistenceCheckReply>(
        "HandleExistenceCheck", ctx, in, out,
        // "No existence check" (not an error, which Vault would turn into a
        // 500 and an error line): the operation that follows carries the
        // same body and is refused with the 413.
        [](const Status&, ::pb::HandleExistenceCheckReply*) {},
        [&](Instance& inst, ::pb::HandleExistenceCheckArgs& args, ::pb::HandleExistenceCheckReply* reply) {
          auto req = FromProto(args.request(), DataDecoding::kLenient);
          Release(args.mutable_request()->mutable_data());
          if (!req.ok()) {
            *reply->mutable_err() = EncodeProtoError(req.status());
            return;
          }
          auto r = WithViews(inst, ctx, *req,
                             [&](tl::Request& bound) { return inst.backend->HandleExistenceCheck(bound); });
          if (!r.ok()) {
            *reply->mutable_err() = EncodeProtoError(r.status());
            return;
          }
          reply->set_check_found(r->check_found);
          reply->set_exists(r->exists);
        });
  }

  grpc::Status SpecialPaths(grpc::ServerContext* ctx, const ::pb::Empty*, ::pb::SpecialPathsReply* reply) {
    return Guard(st_, "SpecialPaths", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(tl::Backend * b, AnyBackend(ctx));
      ToProto(b->SpecialPaths(), reply->mutable_paths());
      return grpc::Status::OK;
    });
  }

  grpc::Status Type(grpc::ServerContext* ctx, const ::pb::Empty*, ::pb::TypeReply* reply) {
    return Guard(st_, "Type", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(tl::Backend * b, AnyBackend(ctx));
      reply->set_type(static_cast<uint32_t>(b->Type()));
      return grpc::Status::OK;
    });
  }

  grpc::Status Initialize(grpc::ServerContext* ctx, const ::pb::InitializeArgs*, ::pb::InitializeReply* reply) {
    return Guard(st_, "Initialize", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(auto inst, Find(ctx));
      Deadline dl = RequestDeadline(ctx);
      GrpcStorage storage = inst->storage->BoundTo(dl);
      GrpcSystemView sv = inst->system_view->BoundTo(dl);
      Status s = inst->backend->Initialize(storage, sv);
      if (!s.ok()) {
        st_.logger.Error("backend initialize failed", {{"error", s.ToString()}});
        *reply->mutable_err() = EncodeProtoError(s);
      } else if (size_t released = ReleaseStartupPages(st_.memory_locked); released > 0) {
        // The first mount is serving: start-up is over (startup_pages.h).
        st_.logger.Debug("released start-up pages", {{"bytes", static_cast<int64_t>(released)}});
      }
      return grpc::Status::OK;
    }, InBandError(reply));
  }

  grpc::Status InvalidateKey(grpc::ServerContext* ctx, const ::pb::InvalidateKeyArgs* args, ::pb::Empty*) {
    return Guard(st_, "InvalidateKey", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(auto inst, Find(ctx));
      inst->backend->InvalidateKey(args->key());
      return grpc::Status::OK;
    });
  }

  grpc::Status Cleanup(grpc::ServerContext* ctx, const ::pb::Empty*, ::pb::Empty*) {
    return Guard(st_, "Cleanup", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(std::string key, InstanceKey(ctx));
      std::shared_ptr<Instance> inst;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (auto it = instances_.find(key); it != instances_.end()) {
          inst = std::move(it->second);
          instances_.erase(it);
        }
      }
      if (inst) inst->backend->Cleanup();
      return grpc::Status::OK;
    });
  }

  // A request RPC taken as raw bytes. Over the backend's limit the reply is
  // `too_large(status, reply)` and nothing is parsed; otherwise the bytes
  // are parsed into Args (and released) and `handle(instance, args, reply)`
  // fills the reply. Memory goes back after a large request either way.
  template <typename Args, typename Reply, typename TooLargeFn, typename HandleFn>
  grpc::Status ServeRaw(std::string_view rpc, grpc::ServerContext* ctx, grpc::ByteBuffer* in, grpc::ByteBuffer* out,
                        TooLargeFn too_large, HandleFn handle) {
    const size_t received = in->Length();
    Reply reply;
    grpc::Status status = Guard(st_, rpc, [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(auto inst, Find(ctx));
      if (std::optional<Status> refused = TooLarge(received, *inst->backend)) {
        in->Clear();
        too_large(*refused, &reply);
        return grpc::Status::OK;
      }
      Args args;
      if (grpc::Status parsed = ParseRaw(in, &args); !parsed.ok()) return parsed;
      handle(*inst, args, &reply);
      return grpc::Status::OK;
    }, InBandError(&reply));
    TrimAfterLargeRequest(received);
    if (!status.ok()) return status;
    return SerializeRaw(reply, out);
  }

  static grpc::Status ToGrpc(const Status& s) {
    auto code = s.kind() == common::ErrorKind::kInvalidArgument ? grpc::StatusCode::INVALID_ARGUMENT
                                                                : grpc::StatusCode::FAILED_PRECONDITION;
    return grpc::Status(code, SanitizeUtf8(s.message()));
  }

  // The instance key: multiplex_id metadata on v5 (missing → the single
  // instance, so plain go-plugin clients work); "single" on v3/v4.
  Result<std::string> InstanceKey(const grpc::ServerContext* ctx) const {
    if (st_.version < 5) return std::string(kSingleInstance);
    const auto& md = ctx->client_metadata();
    auto [lo, hi] = md.equal_range("multiplex_id");
    if (lo == hi) return std::string(kSingleInstance);
    if (std::next(lo) != hi) return Status::InvalidArgument("more than one multiplex_id in the request metadata");
    std::string id(lo->second.data(), lo->second.size());
    if (id.empty()) return Status::InvalidArgument("empty multiplex_id in the request metadata");
    return id;
  }

  Result<std::shared_ptr<Instance>> Find(const grpc::ServerContext* ctx) {
    TC_ASSIGN_OR_RETURN(std::string key, InstanceKey(ctx));
    std::lock_guard<std::mutex> lock(mu_);
    auto it = instances_.find(key);
    if (it == instances_.end()) {
      return Status::Internal("no backend instance for multiplex id \"" + key + "\" (Setup was not called)");
    }
    return it->second;
  }

  // The instance's backend, or a storage-less probe backend (Type and
  // SpecialPaths must answer before/without Setup and never touch storage).
  Result<tl::Backend*> AnyBackend(const grpc::ServerContext* ctx) {
    auto inst = Find(ctx);
    if (inst.ok()) return (*inst)->backend.get();
    std::lock_guard<std::mutex> lock(mu_);
    if (!probe_) {
      tl::BackendConfig cfg;
      cfg.storage = std::make_shared<NoStorage>();
      cfg.system_view = std::make_shared<NoSystemView>();
      cfg.logger = st_.logger.Named("backend");
      auto b = st_.factory(cfg);
      if (!b.ok()) return b.status();
      probe_ = std::move(b).value();
    }
    return probe_.get();
  }

  ServerState& st_;
  std::mutex mu_;  // never held across a suspension
  std::map<std::string, std::shared_ptr<Instance>> instances_;
  std::unique_ptr<tl::Backend> probe_;
};

BackendService::BackendService(ServerState& st) : impl_(std::make_unique<Impl>(st)) {}
BackendService::~BackendService() = default;
grpc::Service* BackendService::service() { return &impl_->service; }
void BackendService::ServeOn(EventLoop* loop) { impl_->ServeOn(loop); }

}  // namespace taskcred::runtime
