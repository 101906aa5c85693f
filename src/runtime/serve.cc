#include "runtime/serve.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "goplugin/grpc_broker.grpc.pb.h"
#include "goplugin/grpc_controller.grpc.pb.h"
#include "goplugin/grpc_stdio.grpc.pb.h"
#include "runtime/broker.h"
#include "runtime/grpc_clients.h"
#include "runtime/handshake.h"
#include "runtime/tls.h"
#include "runtime/translate.h"
#include "sdk/helper/pluginutil/multiplexing.grpc.pb.h"
#include "sdk/logical/version.grpc.pb.h"
#include "sdk/plugin/pb/backend.grpc.pb.h"

namespace taskcred::runtime {
namespace {

using common::Logger;
using common::Result;
using common::Status;
namespace tl = taskcred::logical;

constexpr std::string_view kSingleInstance = "single";

// Process-wide state shared by the services.
struct ServerState {
  Logger logger;
  ServeOptions opts;
  tl::BackendFactory factory;
  int version = 4;
  TlsMode mode = TlsMode::kPlaintext;
  TlsMaterial tls;
  Broker broker;

  std::mutex mu;
  std::condition_variable cv;
  bool shutting_down = false;

  void RequestShutdown(std::string_view why) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (shutting_down) return;
      shutting_down = true;
    }
    logger.Info("plugin shutting down", {{"reason", std::string(why)}});
    cv.notify_all();
  }
};

std::string NewErrorId() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%08x-%llu", rd(), static_cast<unsigned long long>(counter.fetch_add(1)));
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

// Assigns a Result to `lhs` or returns its status as a gRPC error.
#define TC_GRPC_ASSIGN(lhs, rexpr) TC_GRPC_ASSIGN_IMPL_(TC_CONCAT_(tc_grpc_, __LINE__), lhs, rexpr)
#define TC_GRPC_ASSIGN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                         \
  if (!tmp.ok()) return ToGrpc(tmp.status()); \
  lhs = std::move(tmp).value()

class BackendService final : public ::pb::Backend::Service {
 public:
  explicit BackendService(ServerState& st) : st_(st) {}

  grpc::Status Setup(grpc::ServerContext* ctx, const ::pb::SetupArgs* args, ::pb::SetupReply* reply) override {
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

  grpc::Status HandleRequest(grpc::ServerContext* ctx, const ::pb::HandleRequestArgs* args,
                             ::pb::HandleRequestReply* reply) override {
    return Guard(st_, "HandleRequest", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(auto inst, Find(ctx));
      auto req = FromProto(args->request());
      if (!req.ok()) {
        EncodeHandlerResult(req.status(), reply);
        return grpc::Status::OK;
      }
      Deadline dl = RequestDeadline(ctx);
      auto storage = inst->storage->WithDeadline(dl);
      auto sv = inst->system_view->WithDeadline(dl);
      req->storage = storage.get();
      req->system_view = sv.get();
      EncodeHandlerResult(inst->backend->HandleRequest(*req), reply);
      return grpc::Status::OK;
    }, InBandError(reply));
  }

  grpc::Status HandleExistenceCheck(grpc::ServerContext* ctx, const ::pb::HandleExistenceCheckArgs* args,
                                    ::pb::HandleExistenceCheckReply* reply) override {
    return Guard(st_, "HandleExistenceCheck", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(auto inst, Find(ctx));
      auto req = FromProto(args->request());
      if (!req.ok()) {
        *reply->mutable_err() = EncodeProtoError(req.status());
        return grpc::Status::OK;
      }
      Deadline dl = RequestDeadline(ctx);
      auto storage = inst->storage->WithDeadline(dl);
      auto sv = inst->system_view->WithDeadline(dl);
      req->storage = storage.get();
      req->system_view = sv.get();
      auto r = inst->backend->HandleExistenceCheck(*req);
      if (!r.ok()) {
        *reply->mutable_err() = EncodeProtoError(r.status());
      } else {
        reply->set_check_found(r->check_found);
        reply->set_exists(r->exists);
      }
      return grpc::Status::OK;
    }, InBandError(reply));
  }

  grpc::Status SpecialPaths(grpc::ServerContext* ctx, const ::pb::Empty*, ::pb::SpecialPathsReply* reply) override {
    return Guard(st_, "SpecialPaths", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(tl::Backend * b, AnyBackend(ctx));
      ToProto(b->SpecialPaths(), reply->mutable_paths());
      return grpc::Status::OK;
    });
  }

  grpc::Status Type(grpc::ServerContext* ctx, const ::pb::Empty*, ::pb::TypeReply* reply) override {
    return Guard(st_, "Type", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(tl::Backend * b, AnyBackend(ctx));
      reply->set_type(static_cast<uint32_t>(b->Type()));
      return grpc::Status::OK;
    });
  }

  grpc::Status Initialize(grpc::ServerContext* ctx, const ::pb::InitializeArgs*,
                          ::pb::InitializeReply* reply) override {
    return Guard(st_, "Initialize", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(auto inst, Find(ctx));
      Deadline dl = RequestDeadline(ctx);
      auto storage = inst->storage->WithDeadline(dl);
      auto sv = inst->system_view->WithDeadline(dl);
      Status s = inst->backend->Initialize(*storage, *sv);
      if (!s.ok()) {
        st_.logger.Error("backend initialize failed", {{"error", s.ToString()}});
        *reply->mutable_err() = EncodeProtoError(s);
      }
      return grpc::Status::OK;
    }, InBandError(reply));
  }

  grpc::Status InvalidateKey(grpc::ServerContext* ctx, const ::pb::InvalidateKeyArgs* args, ::pb::Empty*) override {
    return Guard(st_, "InvalidateKey", [&]() -> grpc::Status {
      TC_GRPC_ASSIGN(auto inst, Find(ctx));
      inst->backend->InvalidateKey(args->key());
      return grpc::Status::OK;
    });
  }

  grpc::Status Cleanup(grpc::ServerContext* ctx, const ::pb::Empty*, ::pb::Empty*) override {
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

 private:
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
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Instance>> instances_;
  std::unique_ptr<tl::Backend> probe_;
};

class BrokerService final : public ::plugin::GRPCBroker::Service {
 public:
  explicit BrokerService(ServerState& st) : st_(st) {}
  grpc::Status StartStream(grpc::ServerContext*,
                           grpc::ServerReaderWriter<::plugin::ConnInfo, ::plugin::ConnInfo>* stream) override {
    ::plugin::ConnInfo info;
    while (stream->Read(&info)) {
      st_.logger.Trace("broker conn info", {{"service_id", info.service_id()}, {"network", info.network()}});
      st_.broker.Put(info);
    }
    return grpc::Status::OK;
  }

 private:
  ServerState& st_;
};

class ControllerService final : public ::plugin::GRPCController::Service {
 public:
  explicit ControllerService(ServerState& st) : st_(st) {}
  grpc::Status Shutdown(grpc::ServerContext*, const ::plugin::Empty*, ::plugin::Empty*) override {
    st_.RequestShutdown("shutdown requested by the host");
    return grpc::Status::OK;
  }

 private:
  ServerState& st_;
};

class StdioService final : public ::plugin::GRPCStdio::Service {
 public:
  explicit StdioService(ServerState& st) : st_(st) {}
  grpc::Status StreamStdio(grpc::ServerContext* ctx, const google::protobuf::Empty*,
                           grpc::ServerWriter<::plugin::StdioData>*) override {
    std::unique_lock<std::mutex> lock(st_.mu);
    while (!st_.shutting_down && !ctx->IsCancelled()) {
      st_.cv.wait_for(lock, std::chrono::milliseconds(250));
    }
    return grpc::Status::OK;
  }

 private:
  ServerState& st_;
};

class VersionService final : public ::logical::PluginVersion::Service {
 public:
  explicit VersionService(ServerState& st) : st_(st) {}
  grpc::Status Version(grpc::ServerContext*, const ::logical::Empty*, ::logical::VersionReply* reply) override {
    reply->set_plugin_version(st_.opts.version.empty() ? std::string(TASKCRED_RUNTIME_VERSION) : st_.opts.version);
    return grpc::Status::OK;
  }

 private:
  ServerState& st_;
};

class MultiplexService final : public ::pluginutil::multiplexing::PluginMultiplexing::Service {
 public:
  explicit MultiplexService(ServerState& st) : st_(st) {}
  grpc::Status MultiplexingSupport(grpc::ServerContext*, const ::pluginutil::multiplexing::MultiplexingSupportRequest*,
                                   ::pluginutil::multiplexing::MultiplexingSupportResponse* reply) override {
    reply->set_supported(st_.version >= 5);
    return grpc::Status::OK;
  }

 private:
  ServerState& st_;
};

common::LogLevel LevelFromEnv(const EnvGetter& env) {
  if (auto v = LookupBaoOrVault(env, "LOG_LEVEL")) {
    if (auto l = common::ParseLogLevel(*v)) return *l;
  }
  return common::LogLevel::kInfo;
}

std::string NewSocketPath(const std::string& dir) {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string path = dir + "/plugin" + std::to_string(rd() % 1000000000u);
    struct stat sb {};
    if (lstat(path.c_str(), &sb) != 0) return path;
  }
  return dir + "/plugin" + std::to_string(getpid());
}

}  // namespace

int Serve(int argc, char** argv, tl::BackendFactory factory, const ServeOptions& opts) {
  // Signals first, before any thread exists: SIGINT ignored for life (the
  // host shuts us down itself), SIGTERM handled by a sigwait thread.
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  const pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;  // the parent died before prctl took effect

  EnvGetter env = ProcessEnv();
  auto st = std::make_shared<ServerState>();
  st->logger = Logger(opts.logger_module, LevelFromEnv(env));
  st->opts = opts;
  st->factory = std::move(factory);
  Logger& log = st->logger;

  std::string program = argc > 0 && argv[0] != nullptr ? argv[0] : opts.plugin_name;
  auto cookie = env(std::string(kMagicCookieKey));
  if (!cookie || *cookie != kMagicCookieValue) {
    std::string msg = NotAPluginMessage(program);
    ssize_t ignored = write(2, msg.data(), msg.size());
    (void)ignored;
    return 1;
  }
  // go-plugin's server parses PLUGIN_MULTIPLEX_GRPC as a Go bool: only a true
  // value asks for the multiplexed broker; any non-empty value makes the
  // handshake line carry field 7 (whether the plugin supports it: false).
  std::optional<bool> broker_multiplex;
  if (auto mux = env("PLUGIN_MULTIPLEX_GRPC"); mux && !mux->empty()) broker_multiplex = false;
  if (bool wanted = false; broker_multiplex && ParseGoBool(*env("PLUGIN_MULTIPLEX_GRPC"), &wanted) && wanted) {
    log.Error("the host asked for the multiplexed gRPC broker (PLUGIN_MULTIPLEX_GRPC), which this plugin does not "
              "implement; run it as a regular (non-container) plugin");
    return 1;
  }
  st->version = NegotiateVersion(env("PLUGIN_PROTOCOL_VERSIONS"));

  bool mlock = false;
  if (auto v = LookupBaoOrVault(env, "PLUGIN_MLOCK_ENABLED")) ParseGoBool(*v, &mlock);
  if (mlock && mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
    log.Error("mlockall failed; give the plugin CAP_IPC_LOCK or disable mlock", {{"errno", errno}});
    return 1;
  }

  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  st->mode = ChooseTlsMode(env);
  switch (st->mode) {
    case TlsMode::kPlaintext:
      break;
    case TlsMode::kAutoMtls: {
      auto cert = GenerateSelfSignedCert(KeyCurve::kP256);
      if (!cert.ok()) {
        log.Error("generating the AutoMTLS certificate failed", {{"error", cert.status().ToString()}});
        return 1;
      }
      st->tls = TlsMaterial{cert->cert_pem, cert->key_pem, cert->cert_der, env("PLUGIN_CLIENT_CERT").value_or(""),
                            "localhost"};
      break;
    }
    case TlsMode::kLegacy: {
      auto m = LegacyTlsMaterial(env, args);
      if (!m.ok()) {
        log.Error("legacy TLS set-up (unwrap token) failed", {{"error", m.status().ToString()}});
        return 1;
      }
      st->tls = std::move(m).value();
      break;
    }
  }

  std::string dir = SocketDirectory(env);
  std::string socket_path = NewSocketPath(dir);
  if (socket_path.size() >= 104) {
    log.Warn("socket directory path too long for a unix socket; using /tmp", {{"dir", dir}});
    socket_path = NewSocketPath("/tmp");
  }

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (st->mode == TlsMode::kPlaintext) {
    creds = grpc::InsecureServerCredentials();
  } else {
    grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    o.pem_root_certs = st->tls.trust_pem;
    o.pem_key_cert_pairs.push_back({st->tls.key_pem, st->tls.cert_pem});
    creds = grpc::SslServerCredentials(o);
  }

  BackendService backend(*st);
  BrokerService broker(*st);
  ControllerService controller(*st);
  StdioService stdio(*st);
  VersionService version(*st);
  MultiplexService multiplex(*st);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // The sync server needs one thread per in-flight call. StartStream and
  // StreamStdio pin one each for the process lifetime, pollers take a few,
  // and Vault issues requests concurrently without a limit of its own; a
  // low cap turns bursts into RESOURCE_EXHAUSTED (500s). Threads are created
  // on demand and idle ones exit, so a high cap costs nothing at rest.
  grpc::ResourceQuota quota("taskcred-plugin");
  quota.SetMaxThreads(1024);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(INT_MAX);
  builder.SetMaxSendMessageSize(INT_MAX);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.AddListeningPort("unix:" + socket_path, creds);
  builder.RegisterService(&backend);
  builder.RegisterService(&broker);
  builder.RegisterService(&controller);
  builder.RegisterService(&stdio);
  builder.RegisterService(&version);
  builder.RegisterService(&multiplex);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    log.Error("starting the gRPC server failed", {{"socket", socket_path}});
    return 1;
  }
  if (auto* health = server->GetHealthCheckService()) health->SetServingStatus("plugin", true);

  if (auto group = env("PLUGIN_UNIX_SOCKET_GROUP"); group && !group->empty()) {
    auto gid = ResolveGroup(*group);
    if (!gid.ok() || chown(socket_path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(*gid)) != 0 ||
        chmod(socket_path.c_str(), 0660) != 0) {
      log.Error("applying PLUGIN_UNIX_SOCKET_GROUP to the socket failed",
                {{"group", *group}, {"error", gid.ok() ? std::string(strerror(errno)) : gid.status().message()}});
      server->Shutdown(std::chrono::system_clock::now());
      unlink(socket_path.c_str());
      return 1;
    }
  }

  const std::string line = FormatHandshakeLine(st->version, "unix", socket_path,
                                               st->mode == TlsMode::kAutoMtls ? st->tls.cert_der : "", broker_multiplex);
  if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    log.Error("writing the handshake line failed");
    return 1;
  }
  log.Debug("plugin serving", {{"protocol_version", st->version},
                               {"tls", std::string(TlsModeName(st->mode))},
                               {"socket", socket_path}});

  std::thread([st] {
    int sig = 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    if (sigwait(&set, &sig) == 0) st->RequestShutdown("SIGTERM");
  }).detach();
  std::thread([st, parent] {
    std::unique_lock<std::mutex> lock(st->mu);
    while (!st->shutting_down) {
      st->cv.wait_for(lock, std::chrono::milliseconds(500));
      if (getppid() != parent) {
        lock.unlock();
        st->RequestShutdown("the host process died");
        return;
      }
    }
  }).detach();

  {
    std::unique_lock<std::mutex> lock(st->mu);
    st->cv.wait(lock, [&] { return st->shutting_down; });
  }
  // Anything still running after the grace period is cut off by _Exit.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    std::_Exit(0);
  }).detach();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  unlink(socket_path.c_str());
  std::_Exit(0);
}

}  // namespace taskcred::runtime
