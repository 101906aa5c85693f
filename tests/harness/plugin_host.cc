#include "harness/plugin_host.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <future>
#include <random>

#include "grpc/health/v1/health.grpc.pb.h"

namespace taskcred::test {
namespace {

using common::Result;
using common::Status;
using namespace std::chrono_literals;

std::string RandomBase62(size_t n) {
  static constexpr char kChars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device rd;
  std::string out;
  for (size_t i = 0; i < n; ++i) out += kChars[rd() % 62];
  return out;
}

std::string EnvOr(const char* name, const char* compiled) {
  const char* v = std::getenv(name);
  if (v != nullptr && *v != '\0') return v;
  return compiled;
}

void SetBoth(Env& env, bool openbao, const std::string& suffix, const std::string& value) {
  env.emplace_back("VAULT_" + suffix, value);
  if (openbao) env.emplace_back("BAO_" + suffix, value);
}

// Everything needed to exec the plugin the way the host would, plus the
// host-side state the chosen TLS mode needs.
struct Prepared {
  LaunchOptions launch;
  CertKey host_cert;
  std::optional<CertKey> api_ca;
  std::unique_ptr<FakeVaultApi> api;
  std::string temp_dir;
};

Result<Prepared> PrepareLaunch(const HostOptions& o) {
  Prepared p;
  p.launch.binary = o.binary.empty() ? MockPluginPath() : o.binary;
  if (p.launch.binary.empty()) {
    return Status::InvalidArgument("no plugin binary: set TASKCRED_MOCK_PLUGIN or HostOptions.binary");
  }
  p.launch.args = o.args;
  Env env = BaseHostEnv(o);
  switch (o.tls) {
    case TlsMode::kAutoMtls: {
      TC_ASSIGN_OR_RETURN(p.host_cert, GenerateAutoMtlsCert());
      env.emplace_back("PLUGIN_CLIENT_CERT", p.host_cert.cert_pem);
      SetBoth(env, o.openbao_env, "PLUGIN_AUTOMTLS_ENABLED", "true");
      break;
    }
    case TlsMode::kPlaintext:
      SetBoth(env, o.openbao_env, "PLUGIN_AUTOMTLS_ENABLED", "false");
      break;
    case TlsMode::kLegacyUnwrap: {
      SetBoth(env, o.openbao_env, "PLUGIN_AUTOMTLS_ENABLED", "false");
      TC_ASSIGN_OR_RETURN(p.host_cert, GenerateLegacyTlsCert());
      FakeVaultApi::Options api_opts;
      if (o.legacy.https) {
        TC_ASSIGN_OR_RETURN(p.api_ca, GenerateTestCa("harness fake Vault CA"));
        TC_ASSIGN_OR_RETURN(api_opts.server_cert, IssueServerCert(*p.api_ca, "fake-vault-api"));
        api_opts.tls = true;
        char tmpl[] = "/tmp/tc-host-XXXXXX";
        if (mkdtemp(tmpl) == nullptr) return Status::Internal("mkdtemp failed");
        p.temp_dir = tmpl;
        std::string ca_file = p.temp_dir + "/ca.pem";
        std::ofstream(ca_file) << p.api_ca->cert_pem;
        if (o.legacy.ca_via_env) {
          SetBoth(env, o.openbao_env, "CACERT", ca_file);
        } else if (o.legacy.pass_ca_flag) {
          p.launch.args.push_back("-ca-cert=" + ca_file);
        }
      }
      TC_ASSIGN_OR_RETURN(p.api, FakeVaultApi::Start(api_opts));
      std::optional<std::string> addr = p.api->addr();
      if (o.legacy.addr_override) addr = o.legacy.addr_override;
      if (o.legacy.omit_addr) addr.reset();
      std::string jwt = MakeUnwrapJwt(addr, RandomUuid());
      p.api->AddWrappedSecret(jwt, WrappedPluginTlsData(p.host_cert));
      if (o.legacy.refuse) p.api->RefuseAll(o.legacy.refuse->first, o.legacy.refuse->second);
      SetBoth(env, o.openbao_env, "UNWRAP_TOKEN", jwt);
      break;
    }
  }
  env.insert(env.end(), o.extra_env.begin(), o.extra_env.end());
  p.launch.env = std::move(env);
  return p;
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Reads one '\n'-terminated line from fd within `timeout`.
Result<std::string> ReadLine(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::DeadlineExceeded("no line within the timeout (got '" + line + "')");
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable("EOF before a full line (got '" + line + "')");
    if (c == '\n') return line;
    line += c;
  }
}

}  // namespace

std::string MockPluginPath() {
#ifdef TASKCRED_MOCK_PLUGIN_PATH
  return EnvOr("TASKCRED_MOCK_PLUGIN", TASKCRED_MOCK_PLUGIN_PATH);
#else
  return EnvOr("TASKCRED_MOCK_PLUGIN", "");
#endif
}

std::string TaskcredPluginPath() {
#ifdef TASKCRED_PLUGIN_PATH
  return EnvOr("TASKCRED_PLUGIN", TASKCRED_PLUGIN_PATH);
#else
  return EnvOr("TASKCRED_PLUGIN", "");
#endif
}

std::string_view TlsModeName(TlsMode mode) {
  switch (mode) {
    case TlsMode::kAutoMtls: return "automtls";
    case TlsMode::kPlaintext: return "plaintext";
    case TlsMode::kLegacyUnwrap: return "legacy";
  }
  return "?";
}

Env BaseHostEnv(const HostOptions& o) {
  Env env;
  for (const char* inherited : {"PATH", "TMPDIR", "HOME", "LANG"}) {
    if (const char* v = std::getenv(inherited)) env.emplace_back(inherited, v);
  }
  if (o.cookie) env.emplace_back(kCookieKey, *o.cookie);
  env.emplace_back("PLUGIN_PROTOCOL_VERSIONS", o.protocol_versions);
  env.emplace_back("PLUGIN_MIN_PORT", "10000");
  env.emplace_back("PLUGIN_MAX_PORT", "25000");
  SetBoth(env, o.openbao_env, "VERSION", o.host_version);
  bool metadata = o.metadata_mode.value_or(o.tls == TlsMode::kPlaintext);
  SetBoth(env, o.openbao_env, "PLUGIN_METADATA_MODE", metadata ? "true" : "false");
  return env;
}

// ---------------------------------------------------------------- PluginHost

Result<std::unique_ptr<PluginHost>> PluginHost::Launch(HostOptions options) {
  std::unique_ptr<PluginHost> host(new PluginHost());
  host->options_ = std::move(options);
  TC_RETURN_IF_ERROR(host->LaunchProcess());
  return host;
}

Result<std::unique_ptr<PluginHost>> PluginHost::Start(HostOptions options) {
  TC_ASSIGN_OR_RETURN(std::unique_ptr<PluginHost> host, Launch(std::move(options)));
  auto line = host->process_->WaitForFirstStdoutLine(host->options_.handshake_timeout);
  if (!line.ok()) {
    auto exit = host->process_->WaitExit(2s);
    host->process_->WaitOutputClosed();
    return line.status().WithContext("plugin " + (exit ? exit->ToString() : std::string("still running")) +
                                     "; stderr:\n" + host->process_->StderrText());
  }
  auto hs = ParseHandshakeLine(*line);
  if (!hs.ok()) return hs.status();
  host->handshake_ = *std::move(hs);
  if (host->options_.connect) TC_RETURN_IF_ERROR(host->Connect());
  return host;
}

Status PluginHost::LaunchProcess() {
  TC_ASSIGN_OR_RETURN(Prepared p, PrepareLaunch(options_));
  host_cert_ = std::move(p.host_cert);
  api_ca_ = std::move(p.api_ca);
  api_ = std::move(p.api);
  temp_dir_ = std::move(p.temp_dir);
  TC_ASSIGN_OR_RETURN(process_, PluginProcess::Launch(p.launch));
  return Status::Ok();
}

Status PluginHost::Connect() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(INT_MAX);
  args.SetMaxSendMessageSize(INT_MAX);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  switch (options_.tls) {
    case TlsMode::kAutoMtls: {
      if (!handshake_.cert_der) return Status::Internal("AutoMTLS requested but the handshake carries no certificate");
      std::string plugin_pem = DerCertToPem(*handshake_.cert_der);
      if (plugin_pem.empty()) return Status::Internal("handshake certificate is not a valid X.509 DER");
      host_tls_ = {true, host_cert_.cert_pem, host_cert_.key_pem, plugin_pem};
      args.SetSslTargetNameOverride("localhost");
      break;
    }
    case TlsMode::kLegacyUnwrap:
      host_tls_ = {true, host_cert_.cert_pem, host_cert_.key_pem, host_cert_.cert_pem};
      args.SetSslTargetNameOverride(host_cert_.common_name);
      break;
    case TlsMode::kPlaintext:
      host_tls_ = {};
      break;
  }
  if (host_tls_.enabled) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = host_tls_.peer_root_pem;
    ssl.pem_private_key = host_tls_.key_pem;
    ssl.pem_cert_chain = host_tls_.cert_pem;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  channel_ = grpc::CreateCustomChannel(handshake_.GrpcTarget(), creds, args);
  if (!channel_->WaitForConnected(std::chrono::system_clock::now() + 5s)) {
    return Status::Unavailable(std::string("could not connect to the plugin at ") + handshake_.GrpcTarget() + " (" +
                               std::string(TlsModeName(options_.tls)) + "); plugin stderr:\n" + process_->StderrText());
  }
  backend_ = ::pb::Backend::NewStub(channel_);
  version_ = ::logical::PluginVersion::NewStub(channel_);
  mux_ = ::pluginutil::multiplexing::PluginMultiplexing::NewStub(channel_);
  controller_ = ::plugin::GRPCController::NewStub(channel_);
  broker_stub_ = ::plugin::GRPCBroker::NewStub(channel_);
  broker_stream_ = broker_stub_->StartStream(&broker_ctx_);
  broker_reader_ = std::thread([this] {
    ::plugin::ConnInfo in;
    while (broker_stream_->Read(&in)) {
      // Non-multiplexed broker: the plugin sends nothing we need to act on.
    }
  });
  if (options_.stdio_stream.value_or(handshake_.app_version >= 5)) {
    auto stdio = ::plugin::GRPCStdio::NewStub(channel_);
    stdio_stream_ = stdio->StreamStdio(&stdio_ctx_, {});
    stdio_open_ = true;
    stdio_reader_ = std::thread([this] {
      ::plugin::StdioData data;
      while (stdio_stream_->Read(&data)) {
        // Vault discards plugin stdio; so do we.
      }
      stdio_open_ = false;
    });
  }
  return Status::Ok();
}

PluginHost::~PluginHost() {
  if (stdio_stream_) {
    stdio_ctx_.TryCancel();
    if (stdio_reader_.joinable()) stdio_reader_.join();
    (void)stdio_stream_->Finish();
  }
  if (broker_stream_) {
    broker_ctx_.TryCancel();
    if (broker_reader_.joinable()) broker_reader_.join();
    (void)broker_stream_->Finish();
  }
  {
    std::lock_guard<std::mutex> lock(mounts_mu_);
    mounts_.clear();
  }
  process_.reset();
  if (!temp_dir_.empty()) {
    unlink((temp_dir_ + "/ca.pem").c_str());
    rmdir(temp_dir_.c_str());
  }
}

std::vector<LogLine> PluginHost::Logs() const {
  std::vector<LogLine> out;
  for (const auto& l : process_->StderrLines()) out.push_back(ParseLogLine(l));
  return out;
}

bool PluginHost::SendConnInfo(uint32_t service_id, const std::string& socket_path) {
  if (!broker_stream_) return false;
  ::plugin::ConnInfo info;
  info.set_service_id(service_id);
  info.set_network("unix");
  info.set_address(socket_path);
  std::lock_guard<std::mutex> lock(broker_write_mu_);
  return broker_stream_->Write(info);
}

Result<Mount*> PluginHost::Setup(SetupOptions o) {
  if (!backend_) return Status::Internal("not connected");
  auto mount = std::make_unique<Mount>();
  mount->host_ = this;
  {
    std::lock_guard<std::mutex> lock(mounts_mu_);
    mount->broker_id_ = next_broker_id_++;
  }
  mount->multiplex_id_ = o.multiplex_id.empty() ? RandomBase62(10) : o.multiplex_id;
  mount->storage_ = o.storage ? o.storage : std::make_shared<FakeStorage>();
  mount->system_view_ = o.system_view ? o.system_view : std::make_shared<FakeSystemView>();
  if (!o.system_view) {
    SystemViewConfig c;
    c.plugin_env.set_vault_version(options_.host_version);
    mount->system_view_->Set(c);
  }
  TC_ASSIGN_OR_RETURN(mount->broker_, BrokerServer::Start(mount->storage_, mount->system_view_, host_tls_));

  ::pb::SetupArgs args;
  args.set_broker_id(mount->broker_id_);
  if (o.config.empty()) o.config = {{"plugin_name", "taskcred-mock"}, {"plugin_type", "secret"}};
  for (const auto& [k, v] : o.config) (*args.mutable_config())[k] = v;
  args.set_backenduuid(o.backend_uuid.empty() ? RandomUuid() : o.backend_uuid);

  Mount* raw = mount.get();
  auto call = [this, raw, args, deadline = o.deadline] {
    Rpc<::pb::SetupReply> r;
    grpc::ClientContext ctx;
    raw->Prepare(&ctx, deadline);
    r.status = backend_->Setup(&ctx, args, &r.reply);
    return r;
  };
  if (o.conninfo == ConnInfoOrder::kNever) {
    raw->setup_ = call();
  } else if (o.conninfo == ConnInfoOrder::kBeforeSetup) {
    if (!SendConnInfo(raw->broker_id_, raw->broker_->socket_path())) return Status::Unavailable("broker stream closed");
    raw->setup_ = call();
  } else {
    auto pending = std::async(std::launch::async, call);
    // Deliberate ordering delay: the plugin is inside Setup, waiting for it.
    if (pending.wait_for(o.conninfo_delay) == std::future_status::ready) {
      raw->setup_ = pending.get();
      return Status::Internal("Setup returned before the ConnInfo was sent: " + raw->setup_.status.error_message() +
                              raw->setup_.reply.err());
    }
    if (!SendConnInfo(raw->broker_id_, raw->broker_->socket_path())) return Status::Unavailable("broker stream closed");
    raw->setup_ = pending.get();
  }
  std::lock_guard<std::mutex> lock(mounts_mu_);
  mounts_.push_back(std::move(mount));
  return raw;
}

Rpc<::pluginutil::multiplexing::MultiplexingSupportResponse> PluginHost::MultiplexingSupport() {
  Rpc<::pluginutil::multiplexing::MultiplexingSupportResponse> r;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  r.status = mux_->MultiplexingSupport(&ctx, {}, &r.reply);
  return r;
}

Rpc<::logical::VersionReply> PluginHost::Version(const std::string& multiplex_id) {
  Rpc<::logical::VersionReply> r;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  if (!multiplex_id.empty()) ctx.AddMetadata("multiplex_id", multiplex_id);
  r.status = version_->Version(&ctx, {}, &r.reply);
  return r;
}

Rpc<int> PluginHost::HealthCheck(const std::string& service) {
  Rpc<int> r{};
  auto stub = ::grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  ::grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  ::grpc::health::v1::HealthCheckResponse rep;
  r.status = stub->Check(&ctx, req, &rep);
  r.reply = static_cast<int>(rep.status());
  return r;
}

Rpc<::plugin::Empty> PluginHost::Shutdown() {
  Rpc<::plugin::Empty> r;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  r.status = controller_->Shutdown(&ctx, {}, &r.reply);
  return r;
}

// ------------------------------------------------------------- host death

Result<OrphanCheck> RunHostDeathCheck(const HostOptions& options, bool keep_pipes, std::chrono::milliseconds wait) {
  if (options.tls == TlsMode::kLegacyUnwrap) return Status::InvalidArgument("host death check supports automtls/plaintext");
  TC_ASSIGN_OR_RETURN(Prepared p, PrepareLaunch(options));
  ExecVectors exec(p.launch);

  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return Status::Internal("PR_SET_CHILD_SUBREAPER failed");
  int out[2], err[2], report[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
    return Status::Internal("pipe failed");
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t mid = fork();
  if (mid < 0) return Status::Internal("fork failed");
  if (mid == 0) {
    // Intermediate "host": only async-signal-safe calls from here on.
    pid_t plugin = fork();
    if (plugin == 0) {
      dup2(devnull, 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execve(exec.argv[0], exec.argv.data(), exec.envp.data());
      _exit(127);
    }
    (void)!write(report[1], &plugin, sizeof plugin);
    if (!keep_pipes) {
      char c;
      while (read(out[0], &c, 1) == 1) {
        (void)!write(report[1], &c, 1);
        if (c == '\n') break;
      }
    }
    for (;;) pause();
  }
  close(devnull);
  close(out[1]);
  close(err[1]);
  close(report[1]);
  OrphanCheck check;
  check.intermediate_pid = mid;
  // Read ends still open in this process; closed exactly once.
  std::vector<int> fds{report[0], out[0], err[0]};
  auto close_all = [&] {
    for (int fd : fds) close(fd);
    fds.clear();
  };
  auto kill_and_reap = [](pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  };
  pid_t plugin = -1;
  if (read(report[0], &plugin, sizeof plugin) != static_cast<ssize_t>(sizeof plugin) || plugin <= 0) {
    kill_and_reap(mid);
    close_all();
    return Status::Internal("intermediate did not report the plugin pid");
  }
  check.plugin_pid = plugin;
  int pidfd = PidfdOpen(plugin);
  if (!keep_pipes) {
    // Only the intermediate holds the plugin's stdout/stderr from now on.
    close(out[0]);
    close(err[0]);
    fds = {report[0]};
  }
  auto line = ReadLine(keep_pipes ? out[0] : report[0], options.handshake_timeout);
  kill_and_reap(mid);
  auto killed_at = std::chrono::steady_clock::now();
  if (!line.ok()) {
    kill_and_reap(plugin);
    if (pidfd >= 0) close(pidfd);
    close_all();
    return line.status().WithContext("plugin handshake under the intermediate host");
  }
  check.handshake_line = *line;
  pollfd pfd{pidfd, POLLIN, 0};
  int ready = pidfd >= 0 ? poll(&pfd, 1, static_cast<int>(wait.count())) : 0;
  check.plugin_lifetime_after_host =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
  int status = 0;
  if (ready > 0 && waitpid(plugin, &status, 0) == plugin) {
    check.plugin_exit = ExitInfoFromWaitStatus(status);
  } else {
    kill_and_reap(plugin);
  }
  if (pidfd >= 0) close(pidfd);
  close_all();
  return check;
}

}  // namespace taskcred::test
