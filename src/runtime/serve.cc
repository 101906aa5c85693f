#include "runtime/serve.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <thread>

#include "runtime/about.h"
#include "runtime/backend_service.h"
#include "runtime/handshake.h"
#include "runtime/loop.h"
#include "runtime/plugin_services.h"
#include "runtime/server_state.h"
#include "runtime/tls.h"

namespace taskcred::runtime {

void ServerState::RequestShutdown(std::string_view why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_.exchange(true, std::memory_order_acq_rel)) return;
    for (Sleeper* s : shutdown_waiters_) s->Wake();
    shutdown_waiters_.clear();
  }
  logger.Info("plugin shutting down", {{"reason", std::string(why)}});
  pthread_kill(main_thread, kShutdownSignal);
}

void ServerState::AwaitShutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  if (shutting_down()) return;
  Sleeper sleeper;
  shutdown_waiters_.push_back(&sleeper);
  sleeper.SleepUntil(lock, std::nullopt);  // only RequestShutdown wakes it
}

namespace {

namespace tl = taskcred::logical;

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

// Event loops from `-event-loops=N` (removed from `args`, which go on to the
// legacy TLS flags) or TASKCRED_EVENT_LOOPS; 1 by default.
std::optional<int> TakeEventLoops(std::vector<std::string>& args, const EnvGetter& env, std::string* error) {
  std::optional<std::string> value = env("TASKCRED_EVENT_LOOPS");
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") break;
    if (a.starts_with("--")) a.remove_prefix(1);
    if (a == "-event-loops" && i + 1 < args.size()) {
      value = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      break;
    }
    if (a.starts_with("-event-loops=")) {
      value = std::string(a.substr(13));
      args.erase(args.begin() + static_cast<long>(i));
      break;
    }
  }
  if (!value || value->empty()) return 1;
  int n = 0;
  auto [ptr, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
  if (ec != std::errc() || ptr != value->data() + value->size() || n < 1 || n > 64) {
    *error = "event loops: must be a whole number from 1 to 64, got \"" + *value + "\"";
    return std::nullopt;
  }
  return n;
}

}  // namespace

int Serve(int argc, char** argv, tl::BackendFactory factory, const ServeOptions& opts) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  if (auto text = AboutRequest(args, opts)) {
    std::fputs(text->c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  // Signals first, before any thread exists: SIGINT ignored for life (the
  // host shuts us down itself); SIGTERM and the internal shutdown signal
  // blocked in every thread and taken by the main thread with sigtimedwait.
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, SIGTERM);
  sigaddset(&waited, kShutdownSignal);
  pthread_sigmask(SIG_BLOCK, &waited, nullptr);
  const pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;  // the parent died before prctl took effect
  // Debian's abseil checks every absl::Mutex acquisition for lock-order
  // cycles (a graph update per lock in gRPC's core): pure overhead here.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // A fixed mmap threshold: every block of 256 KiB or more (a large request
  // body, its parsed form, a large answer) is mapped on its own and goes back
  // to the kernel when freed. glibc's default raises the threshold after such
  // a block is freed, so the next ones come from the heap and their pages
  // stay with the process: a burst of 10 MB bodies left RSS at 3.6x idle.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);

  EnvGetter env = ProcessEnv();
  auto st = std::make_shared<ServerState>();
  st->logger = common::Logger(opts.logger_module, LevelFromEnv(env));
  st->opts = opts;
  st->factory = std::move(factory);
  st->main_thread = pthread_self();
  common::Logger& log = st->logger;

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
  st->memory_locked = mlock;

  std::string loops_error;
  std::optional<int> loop_count = TakeEventLoops(args, env, &loops_error);
  if (!loop_count) {
    log.Error(loops_error);
    return 1;
  }
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

  // Every service is asynchronous and served by the event loops: no thread
  // pool of gRPC's own (and so no default health service, which would bring
  // one; PluginServices answers grpc.health.v1 itself).
  BackendService backend(*st);
  PluginServices plugin_services(*st);
  grpc::EnableDefaultHealthCheckService(false);
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(INT_MAX);
  builder.SetMaxSendMessageSize(INT_MAX);
  // No HTTP/2 bandwidth-delay probing: on a unix socket to the local host
  // it only adds PING round trips (and loop wake-ups) to requests.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddListeningPort("unix:" + socket_path, creds);
  builder.RegisterService(backend.service());
  for (grpc::Service* s : plugin_services.services()) builder.RegisterService(s);
  std::vector<std::unique_ptr<EventLoop>> loops;
  for (int i = 0; i < *loop_count; ++i) loops.push_back(std::make_unique<EventLoop>(builder.AddCompletionQueue()));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    log.Error("starting the gRPC server failed", {{"socket", socket_path}});
    return 1;
  }

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

  for (auto& loop : loops) {
    backend.ServeOn(loop.get());
    plugin_services.ServeOn(loop.get());
  }
  for (auto& loop : loops) std::thread([l = loop.get()] { l->Run(); }).detach();

  const std::string line = FormatHandshakeLine(st->version, "unix", socket_path,
                                               st->mode == TlsMode::kAutoMtls ? st->tls.cert_der : "", broker_multiplex);
  if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    log.Error("writing the handshake line failed");
    return 1;
  }
  log.Debug("plugin serving", {{"protocol_version", st->version},
                               {"tls", std::string(TlsModeName(st->mode))},
                               {"socket", socket_path},
                               {"event_loops", *loop_count}});

  // The main thread waits for SIGTERM, the shutdown signal, or the host's
  // death (checked every 500 ms; PR_SET_PDEATHSIG covers the usual case).
  const timespec tick{0, 500 * 1000 * 1000};
  while (!st->shutting_down()) {
    int sig = sigtimedwait(&waited, nullptr, &tick);
    if (sig == SIGTERM) {
      st->RequestShutdown("SIGTERM");
    } else if (sig < 0 && getppid() != parent) {
      st->RequestShutdown("the host process died");
    }
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
