// PluginHost: a fake Vault/OpenBao host for one plugin process.
//
// Launches the plugin exactly as go-plugin does for Vault (environment,
// magic cookie, protocol versions, one of the three transport modes), reads
// the handshake line, connects over gRPC with the matching credentials, opens
// the go-plugin broker stream and drives the Backend protocol. Each Setup
// creates a Mount with its own broker id, its own brokered Storage +
// SystemView server and (for protocol 5) its own multiplex_id, which is sent
// as gRPC metadata on every Backend/PluginVersion call, as Vault does.
//
// Typical use:
//   auto host = PluginHost::Start({.binary = MockPluginPath()});
//   ASSERT_TRUE(host.ok()) << host.status().ToString();
//   auto mount = (*host)->Setup({});
//   auto r = (*mount)->HandleRequest({.operation = "update", .path = "kv/a", .data = {{"v", 1}}});
//   EXPECT_EQ(r.http_status, 204);
//
// Thread-safe after Start: RPC helpers may be called concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "goplugin/grpc_broker.grpc.pb.h"
#include "goplugin/grpc_controller.grpc.pb.h"
#include "goplugin/grpc_stdio.grpc.pb.h"
#include "harness/certs.h"
#include "harness/fake_vault_api.h"
#include "harness/handshake.h"
#include "harness/host_services.h"
#include "harness/process.h"
#include "sdk/helper/pluginutil/multiplexing.grpc.pb.h"
#include "sdk/logical/version.grpc.pb.h"
#include "sdk/plugin/pb/backend.grpc.pb.h"

namespace taskcred::test {

inline constexpr char kCookieKey[] = "VAULT_BACKEND_PLUGIN";
inline constexpr char kCookieValue[] = "6669da05-b1c8-4f49-97d9-c8e5bed98e20";

// Plugin binaries provided by CMake (compile definitions) or the
// environment (TASKCRED_MOCK_PLUGIN / TASKCRED_PLUGIN win). Empty if unknown.
std::string MockPluginPath();
std::string TaskcredPluginPath();

enum class TlsMode {
  kAutoMtls,      // PLUGIN_CLIENT_CERT (P-521 host cert), modern hosts
  kPlaintext,     // metadata mode: no TLS at all
  kLegacyUnwrap,  // VAULT_UNWRAP_TOKEN + fake Vault API, Vault 1.8 / v4 fallback
};
std::string_view TlsModeName(TlsMode mode);

// Knobs of the legacy unwrap-token mode.
struct LegacyOptions {
  bool https = false;          // fake API over HTTPS with its own CA
  bool pass_ca_flag = true;    // with https: give the plugin -ca-cert=<file>
  bool ca_via_env = false;     // with https: VAULT_CACERT instead of the flag
  bool omit_addr = false;      // JWT payload without `addr`
  std::optional<std::string> addr_override;  // e.g. an unreachable address
  std::optional<std::pair<int, std::string>> refuse;  // API answers this status
};

struct HostOptions {
  std::string binary;  // default: MockPluginPath()
  std::vector<std::string> args;
  TlsMode tls = TlsMode::kAutoMtls;
  LegacyOptions legacy;
  std::string protocol_versions = "5";  // PLUGIN_PROTOCOL_VERSIONS
  // nullopt: cookie not set at all.
  std::optional<std::string> cookie = std::string(kCookieValue);
  std::string host_version = "2.1.0";  // VAULT_VERSION / BAO_VERSION
  bool openbao_env = true;             // also set the BAO_* names
  // Metadata mode; default: true exactly for kPlaintext.
  std::optional<bool> metadata_mode;
  Env extra_env;  // appended last (wins)
  std::chrono::milliseconds handshake_timeout{10000};
  // Connect + open the broker stream (false: only launch and read the line).
  bool connect = true;
  // Open GRPCStdio/StreamStdio right after connecting, as go-plugin >= 1.1
  // does (Vault >= 1.12, OpenBao); default: when the negotiated version is 5.
  std::optional<bool> stdio_stream;
};

enum class ConnInfoOrder { kBeforeSetup, kAfterSetup, kNever };

struct SetupOptions {
  std::map<std::string, std::string> config;  // default: plugin_name/plugin_type
  std::string backend_uuid;                   // default: random
  std::string multiplex_id;                   // default: random 10 chars
  ConnInfoOrder conninfo = ConnInfoOrder::kBeforeSetup;
  std::chrono::milliseconds conninfo_delay{300};  // for kAfterSetup
  std::shared_ptr<FakeStorage> storage;           // default: a fresh one
  std::shared_ptr<FakeSystemView> system_view;    // default: a fresh one
  std::chrono::milliseconds deadline{10000};
};

struct RequestSpec {
  std::string operation = "read";
  std::string path;
  nlohmann::json data = nullptr;  // Request.data (JSON text; null -> "null")
  std::optional<std::string> raw_data;  // when set: Request.data as is (need not be valid JSON)
  std::optional<nlohmann::json> secret_internal_data;  // sets Request.secret
  std::string lease_id;
  std::string entity_id;
  std::string client_token = "harness-salted-token";
  std::string mount_point = "harness/";
  std::chrono::milliseconds deadline{10000};
};

template <typename Reply>
struct Rpc {
  grpc::Status status;
  Reply reply;
  bool ok() const { return status.ok(); }
};

struct RequestResult {
  grpc::Status status;  // transport-level result
  ::pb::HandleRequestReply reply;
  int http_status = 0;           // Vault's HTTP mapping (RespondErrorCommon)
  nlohmann::json data = nullptr;  // response.data decoded (null when absent)
  std::string error;              // data.error, else err.err_msg, else status message
};

// A request of `operation` on `path` with `data`; every other field keeps
// its default.
RequestSpec MakeRequest(std::string operation, std::string path, nlohmann::json data = nullptr);

// What Vault sends to renew or revoke the lease of `issued` (an answer of
// creds/<role>): the role's creds path with the issuance's data, the secret's
// internal data and a lease id, on mount "taskcred/".
RequestSpec LeaseRequest(const std::string& operation, const RequestResult& issued);

// Vault's HTTP status for a reply to `operation` (OB@HEAD sdk/logical/response_util.go).
int VaultHttpStatus(const ::pb::HandleRequestReply& reply, std::string_view operation);

class PluginHost;

class Mount {
 public:
  const std::string& multiplex_id() const { return multiplex_id_; }
  uint32_t broker_id() const { return broker_id_; }
  FakeStorage& storage() { return *storage_; }
  // For a second mount over the same storage (SetupOptions::storage).
  std::shared_ptr<FakeStorage> shared_storage() const { return storage_; }
  FakeSystemView& system_view() { return *system_view_; }
  const Rpc<::pb::SetupReply>& setup() const { return setup_; }

  Rpc<::pb::TypeReply> Type();
  Rpc<::pb::SpecialPathsReply> SpecialPaths();
  Rpc<::pb::InitializeReply> Initialize();
  RequestResult HandleRequest(const RequestSpec& spec);
  Rpc<::pb::HandleExistenceCheckReply> HandleExistenceCheck(const RequestSpec& spec);
  Rpc<::pb::Empty> InvalidateKey(const std::string& key);
  Rpc<::pb::Empty> Cleanup();  // also stops this mount's broker server
  Rpc<::logical::VersionReply> Version();

 private:
  friend class PluginHost;
  void Prepare(grpc::ClientContext* ctx, std::chrono::milliseconds deadline) const;

  PluginHost* host_ = nullptr;
  std::string multiplex_id_;
  uint32_t broker_id_ = 0;
  std::shared_ptr<FakeStorage> storage_;
  std::shared_ptr<FakeSystemView> system_view_;
  std::unique_ptr<BrokerServer> broker_;
  Rpc<::pb::SetupReply> setup_;
};

class PluginHost {
 public:
  // Launches, waits for the handshake and (unless !options.connect) connects.
  // Fails with the plugin's stderr in the message when there is no handshake.
  static common::Result<std::unique_ptr<PluginHost>> Start(HostOptions options);
  // Launches only: the caller inspects process() (e.g. exit code, stderr).
  static common::Result<std::unique_ptr<PluginHost>> Launch(HostOptions options);
  ~PluginHost();

  PluginProcess& process() { return *process_; }
  const Handshake& handshake() const { return handshake_; }
  const HostOptions& options() const { return options_; }
  const CertKey& host_cert() const { return host_cert_; }
  FakeVaultApi* vault_api() { return api_.get(); }
  // Parsed stderr (hclog JSON where possible).
  std::vector<LogLine> Logs() const;

  // New mount: broker server, ConnInfo, Setup RPC. Fails only on harness
  // errors; RPC failure and SetupReply.err are in Mount::setup().
  common::Result<Mount*> Setup(SetupOptions options = {});

  Rpc<::pluginutil::multiplexing::MultiplexingSupportResponse> MultiplexingSupport();
  // Raw Version call without a mount (multiplex_id optional).
  Rpc<::logical::VersionReply> Version(const std::string& multiplex_id = "");
  // grpc.health.v1 Check of `service` (go-plugin uses "plugin"); returns the
  // serving status enum value or the RPC error.
  Rpc<int> HealthCheck(const std::string& service = "plugin");
  Rpc<::plugin::Empty> Shutdown();  // GRPCController/Shutdown
  void Kill() { process_->Kill(); }
  std::optional<ExitInfo> WaitExit(std::chrono::milliseconds timeout) { return process_->WaitExit(timeout); }
  pid_t pid() const { return process_->pid(); }

  // True while the StreamStdio call (if opened) has not ended.
  bool StdioStreamOpen() const { return stdio_open_.load(); }

  // Sends a ConnInfo for `service_id` on the broker stream (tests of odd orders).
  bool SendConnInfo(uint32_t service_id, const std::string& socket_path);

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  const HostTls& tls() const { return host_tls_; }

 private:
  friend class Mount;
  PluginHost() = default;
  common::Status LaunchProcess();
  common::Status Connect();

  HostOptions options_;
  CertKey host_cert_;    // AutoMTLS host identity, or the legacy wrapped cert
  std::optional<CertKey> api_ca_;
  std::unique_ptr<FakeVaultApi> api_;
  std::string temp_dir_;
  std::unique_ptr<PluginProcess> process_;
  Handshake handshake_;
  HostTls host_tls_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::pb::Backend::Stub> backend_;
  std::unique_ptr<::logical::PluginVersion::Stub> version_;
  std::unique_ptr<::pluginutil::multiplexing::PluginMultiplexing::Stub> mux_;
  std::unique_ptr<::plugin::GRPCController::Stub> controller_;
  std::unique_ptr<::plugin::GRPCBroker::Stub> broker_stub_;

  grpc::ClientContext broker_ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<::plugin::ConnInfo, ::plugin::ConnInfo>> broker_stream_;
  std::thread broker_reader_;
  std::mutex broker_write_mu_;

  grpc::ClientContext stdio_ctx_;
  std::unique_ptr<grpc::ClientReader<::plugin::StdioData>> stdio_stream_;
  std::thread stdio_reader_;

  std::atomic<bool> stdio_open_{false};
  std::mutex mounts_mu_;
  uint32_t next_broker_id_ = 1;
  std::vector<std::unique_ptr<Mount>> mounts_;
};

// Runs `binary` (with host-like env) under an intermediate process that is
// then SIGKILLed, to check the plugin does not outlive its host. The test
// process becomes a child subreaper so the orphan can be reaped.
struct OrphanCheck {
  std::string handshake_line;
  pid_t intermediate_pid = -1;
  pid_t plugin_pid = -1;
  // After killing the intermediate: how the plugin ended, nullopt if it is
  // still alive after the timeout (then it has been SIGKILLed by the check).
  std::optional<ExitInfo> plugin_exit;
  std::chrono::milliseconds plugin_lifetime_after_host{0};
};
// `keep_pipes`: the test process keeps the plugin's stdout/stderr pipes open
// (so only the parent's death, not EPIPE, can tell the plugin).
common::Result<OrphanCheck> RunHostDeathCheck(const HostOptions& options, bool keep_pipes,
                                              std::chrono::milliseconds wait);

// Environment a Vault host would give the plugin for `options` (without the
// mode-specific TLS variables, which PluginHost adds).
Env BaseHostEnv(const HostOptions& options);

}  // namespace taskcred::test
