// Protocol integration tests: the harness plays Vault/OpenBao against the
// real taskcred-mock-plugin binary (runtime + a mock backend), over each
// transport mode and through the brokered Storage/SystemView.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "harness/certs.h"
#include "harness/plugin_host.h"

namespace taskcred::test {
namespace {

using namespace std::chrono_literals;

// Starts a host or fails the test with the plugin's stderr.
#define START_HOST(var, options)                                     \
  auto var##_result = PluginHost::Start(options);                    \
  ASSERT_TRUE(var##_result.ok()) << var##_result.status().ToString(); \
  std::unique_ptr<PluginHost> var = std::move(var##_result).value()

#define SETUP_MOUNT(var, host, options)                                               \
  auto var##_result = (host)->Setup(options);                                          \
  ASSERT_TRUE(var##_result.ok()) << var##_result.status().ToString();                  \
  Mount* var = *var##_result;                                                           \
  ASSERT_TRUE(var->setup().ok()) << var->setup().status.error_message() << "\n"         \
                                 << (host)->process().StderrText();                    \
  ASSERT_EQ(var->setup().reply.err(), "")

HostOptions Options(TlsMode mode, std::string versions = "5") {
  HostOptions o;
  o.tls = mode;
  o.protocol_versions = std::move(versions);
  return o;
}

// Writes kv/<key> = {"value": value} and reads it back through the plugin.
void ExpectKvRoundTrip(Mount& mount, const std::string& key, const std::string& value) {
  auto w = mount.HandleRequest(MakeRequest("update", "kv/" + key, {{"value", value}}));
  ASSERT_TRUE(w.status.ok()) << w.status.error_message();
  EXPECT_TRUE(w.http_status == 200 || w.http_status == 204) << w.http_status << " " << w.error;
  auto r = mount.HandleRequest(MakeRequest("read", "kv/" + key));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.http_status, 200) << r.error;
  ASSERT_TRUE(r.data.is_object()) << r.reply.DebugString();
  EXPECT_EQ(r.data.value("value", ""), value) << r.data.dump();
}

// True if some stored value contains `needle` (the mock's key layout is its own).
bool StorageHolds(FakeStorage& storage, const std::string& needle) {
  for (const auto& [k, e] : storage.Snapshot()) {
    if (e.value.find(needle) != std::string::npos) return true;
  }
  return false;
}

bool HasErrorLog(PluginHost& host, const std::string& needle_lower) {
  for (const auto& l : host.Logs()) {
    std::string text = l.raw;
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    if (l.json && l.level != "error") continue;
    if (text.find(needle_lower) != std::string::npos) return true;
  }
  return false;
}

// ------------------------------------------------------------ TLS modes

TEST(IntegrationTlsTest, AutoMtlsWithP521HostCert) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  auto host_info = InspectCert(host->host_cert().cert_der);
  ASSERT_TRUE(host_info.ok());
  EXPECT_EQ(host_info->curve, "secp521r1");  // the handshake below is a P-521 one
  ASSERT_TRUE(host->handshake().cert_der.has_value());
  auto plugin_cert = InspectCert(*host->handshake().cert_der);
  ASSERT_TRUE(plugin_cert.ok()) << plugin_cert.status().ToString();
  EXPECT_NE(std::find(plugin_cert->dns_sans.begin(), plugin_cert->dns_sans.end(), "localhost"), plugin_cert->dns_sans.end());
  EXPECT_TRUE(plugin_cert->eku_server_auth);
  EXPECT_TRUE(plugin_cert->eku_client_auth);
  EXPECT_TRUE(plugin_cert->serial_positive);
  EXPECT_GE(plugin_cert->seconds_since_not_before, 25);
  SETUP_MOUNT(mount, host, {});
  ExpectKvRoundTrip(*mount, "tls", "automtls");  // main channel + brokered storage, both mTLS
  EXPECT_TRUE(StorageHolds(mount->storage(), "automtls"));
}

TEST(IntegrationTlsTest, AutoMtlsRejectsAHostWithAnotherCert) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  // A client presenting a cert other than PLUGIN_CLIENT_CERT must be refused.
  auto other = GenerateAutoMtlsCert();
  ASSERT_TRUE(other.ok());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = DerCertToPem(*host->handshake().cert_der);
  ssl.pem_private_key = other->key_pem;
  ssl.pem_cert_chain = other->cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto ch = grpc::CreateCustomChannel(host->handshake().GrpcTarget(), grpc::SslCredentials(ssl), args);
  auto stub = ::pb::Backend::NewStub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 2s);
  ::pb::TypeReply rep;
  EXPECT_FALSE(stub->Type(&ctx, {}, &rep).ok());
}

TEST(IntegrationTlsTest, PlaintextMetadataMode) {
  START_HOST(host, Options(TlsMode::kPlaintext, "4"));
  EXPECT_FALSE(host->handshake().cert_der.has_value());
  SETUP_MOUNT(mount, host, {});
  auto type = mount->Type();
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(type.reply.type(), 1u);
  ExpectKvRoundTrip(*mount, "plain", "metadata-mode");
}

struct LegacyCase {
  const char* name;
  bool https;
  bool ca_via_env;
  bool openbao_env;  // false: Vault 1.8 sets only VAULT_* names
};

void PrintTo(const LegacyCase& c, std::ostream* os) { *os << c.name; }

class IntegrationLegacyTlsTest : public ::testing::TestWithParam<LegacyCase> {};

TEST_P(IntegrationLegacyTlsTest, UnwrapsAndServesMtls) {
  HostOptions o = Options(TlsMode::kLegacyUnwrap, "4,3");
  o.legacy.https = GetParam().https;
  o.legacy.ca_via_env = GetParam().ca_via_env;
  o.openbao_env = GetParam().openbao_env;
  START_HOST(host, o);
  EXPECT_EQ(host->handshake().app_version, 4);
  EXPECT_FALSE(host->handshake().cert_der.has_value()) << "field 6 without PLUGIN_CLIENT_CERT";
  auto requests = host->vault_api()->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/v1/sys/wrapping/unwrap");
  EXPECT_EQ(requests[0].status, 200);
  EXPECT_EQ(std::count(requests[0].token.begin(), requests[0].token.end(), '.'), 2) << "X-Vault-Token = the JWT";
  SETUP_MOUNT(mount, host, {});
  ExpectKvRoundTrip(*mount, "legacy", GetParam().name);  // broker dial uses server name = UUID CN
}

INSTANTIATE_TEST_SUITE_P(Modes, IntegrationLegacyTlsTest,
                         ::testing::Values(LegacyCase{"http", false, false, true},
                                           LegacyCase{"http_vault18_env", false, false, false},
                                           LegacyCase{"https_ca_flag", true, false, true},
                                           LegacyCase{"https_ca_env", true, true, true},
                                           LegacyCase{"https_vault18_env", true, true, false}),
                         [](const auto& tpi) { return std::string(tpi.param.name); });

TEST(IntegrationLegacyEnvTest, BaoNamesWinOverVaultNames) {
  HostOptions o = Options(TlsMode::kLegacyUnwrap, "4");
  o.extra_env.emplace_back("VAULT_UNWRAP_TOKEN", "not-a-jwt");  // BAO_UNWRAP_TOKEN holds the real one
  START_HOST(host, o);
  SETUP_MOUNT(mount, host, {});
  ExpectKvRoundTrip(*mount, "bao", "first");
}

struct LegacyFailure {
  const char* name;
  LegacyOptions legacy;
  const char* log_needle;  // lower-case text the error log must contain
};

void PrintTo(const LegacyFailure& c, std::ostream* os) { *os << c.name; }

class IntegrationLegacyFailureTest : public ::testing::TestWithParam<LegacyFailure> {};

TEST_P(IntegrationLegacyFailureTest, ExitsNonZeroWithoutHandshake) {
  HostOptions o = Options(TlsMode::kLegacyUnwrap, "4");
  o.legacy = GetParam().legacy;
  auto launched = PluginHost::Launch(o);
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  PluginHost& host = **launched;
  auto exit = host.WaitExit(15s);
  ASSERT_TRUE(exit.has_value()) << "plugin still running; stderr:\n" << host.process().StderrText();
  host.process().WaitOutputClosed();
  EXPECT_TRUE(exit->exited && exit->code != 0) << exit->ToString();
  EXPECT_EQ(host.process().StdoutText(), "") << "no handshake may be printed";
  EXPECT_TRUE(HasErrorLog(host, GetParam().log_needle))
      << "want an error line mentioning '" << GetParam().log_needle << "'; stderr:\n"
      << host.process().StderrText();
}

INSTANTIATE_TEST_SUITE_P(
    Errors, IntegrationLegacyFailureTest,
    ::testing::Values(LegacyFailure{"missing_addr", [] { LegacyOptions l; l.omit_addr = true; return l; }(), "addr"},
                      LegacyFailure{"unreachable_api",
                                    [] { LegacyOptions l; l.addr_override = "http://127.0.0.1:1"; return l; }(),
                                    "127.0.0.1:1"},
                      LegacyFailure{"refused_unwrap",
                                    [] { LegacyOptions l; l.refuse = std::make_pair(403, "permission denied"); return l; }(),
                                    "403"},
                      LegacyFailure{"https_untrusted_ca",
                                    [] { LegacyOptions l; l.https = true; l.pass_ca_flag = false; return l; }(),
                                    "unwrap"}),
    [](const auto& tpi) { return std::string(tpi.param.name); });

// ------------------------------------------------ handshake and versions

struct VersionCase {
  const char* offered;
  int expected;
  TlsMode mode;
};

void PrintTo(const VersionCase& c, std::ostream* os) { *os << c.offered; }

class IntegrationVersionTest : public ::testing::TestWithParam<VersionCase> {};

TEST_P(IntegrationVersionTest, NegotiatesHighestCommon) {
  START_HOST(host, Options(GetParam().mode, GetParam().offered));
  EXPECT_EQ(host->handshake().app_version, GetParam().expected) << host->handshake().raw;
  SETUP_MOUNT(mount, host, {});
  auto type = mount->Type();
  ASSERT_TRUE(type.ok()) << type.status.error_message();
  EXPECT_EQ(type.reply.type(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Offers, IntegrationVersionTest,
                         ::testing::Values(VersionCase{"3,4", 4, TlsMode::kPlaintext},
                                           VersionCase{"4,3", 4, TlsMode::kPlaintext},
                                           VersionCase{"5", 5, TlsMode::kAutoMtls},
                                           VersionCase{"4,5", 5, TlsMode::kAutoMtls}),
                         [](const auto& tpi) {
                           std::string n = tpi.param.offered;
                           std::replace(n.begin(), n.end(), ',', '_');
                           return "v" + n;
                         });

struct CookieCase {
  const char* name;
  std::optional<std::string> cookie;
};

void PrintTo(const CookieCase& c, std::ostream* os) { *os << c.name; }

class IntegrationCookieTest : public ::testing::TestWithParam<CookieCase> {};

TEST_P(IntegrationCookieTest, RefusesWithHumanMessage) {
  HostOptions o = Options(TlsMode::kAutoMtls);
  o.cookie = GetParam().cookie;
  auto launched = PluginHost::Launch(o);
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  PluginHost& host = **launched;
  auto exit = host.WaitExit(5s);
  ASSERT_TRUE(exit.has_value());
  host.process().WaitOutputClosed();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 1);
  EXPECT_EQ(host.process().StdoutText(), "");
  std::string err = host.process().StderrText();
  EXPECT_FALSE(err.empty());
  EXPECT_NE(err.find("plugin"), std::string::npos) << err;
}

INSTANTIATE_TEST_SUITE_P(Cookies, IntegrationCookieTest,
                         ::testing::Values(CookieCase{"wrong", std::string("not-the-cookie")},
                                           CookieCase{"missing", std::nullopt}),
                         [](const auto& tpi) { return std::string(tpi.param.name); });

TEST(IntegrationHandshakeTest, ExactlyOneLineAndFieldRules) {
  START_HOST(automtls, Options(TlsMode::kAutoMtls));
  const Handshake& a = automtls->handshake();
  EXPECT_EQ(a.fields.size(), 6u) << a.raw;  // no field 7 without PLUGIN_MULTIPLEX_GRPC
  EXPECT_EQ(a.fields[5].find('='), std::string::npos) << "field 6 must be unpadded";
  EXPECT_EQ(a.network, "unix");
  EXPECT_EQ(a.protocol, "grpc");

  START_HOST(plain, Options(TlsMode::kPlaintext, "4"));
  const Handshake& p = plain->handshake();
  EXPECT_TRUE(p.fields.size() == 5 || (p.fields.size() == 6 && p.fields[5].empty())) << p.raw;

  for (PluginHost* h : {automtls.get(), plain.get()}) {
    auto shut = h->Shutdown();
    EXPECT_TRUE(shut.ok() || shut.status.error_code() == grpc::StatusCode::UNAVAILABLE);
    ASSERT_TRUE(h->WaitExit(5s).has_value());
    h->process().WaitOutputClosed();
    EXPECT_EQ(h->process().StdoutText(), h->handshake().raw + "\n") << "exactly one line on stdout";
  }
}

TEST(IntegrationHandshakeTest, StderrIsHclogJson) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  SETUP_MOUNT(mount, host, {});
  ExpectKvRoundTrip(*mount, "log", "x");
  (void)host->Shutdown();
  ASSERT_TRUE(host->WaitExit(5s).has_value());
  host->process().WaitOutputClosed();
  auto logs = host->Logs();
  EXPECT_FALSE(logs.empty());
  for (const auto& l : logs) EXPECT_TRUE(l.json) << "not an hclog JSON line: " << l.raw;
}

TEST(IntegrationHandshakeTest, MultiplexGrpcRequestIsRefused) {
  HostOptions o = Options(TlsMode::kAutoMtls);
  o.extra_env.emplace_back("PLUGIN_MULTIPLEX_GRPC", "true");
  auto launched = PluginHost::Launch(o);
  ASSERT_TRUE(launched.ok());
  PluginHost& host = **launched;
  auto exit = host.WaitExit(5s);
  ASSERT_TRUE(exit.has_value()) << "plugin must not serve a yamux broker it does not implement";
  host.process().WaitOutputClosed();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 1);
  EXPECT_EQ(host.process().StdoutText(), "");
  EXPECT_TRUE(HasErrorLog(host, "multiplex")) << host.process().StderrText();
}

// go-plugin parses PLUGIN_MULTIPLEX_GRPC as a Go bool: "false" (or any
// value that is not true) asks for no multiplexed broker, so the plugin
// serves and, as go-plugin does whenever the variable is set, says in field 7
// whether it supports the multiplexed broker.
TEST(IntegrationHandshakeTest, MultiplexGrpcFalseServesAndAnswersUnsupported) {
  for (const char* value : {"false", "0", "maybe"}) {
    SCOPED_TRACE(value);
    HostOptions o = Options(TlsMode::kAutoMtls);
    o.extra_env.emplace_back("PLUGIN_MULTIPLEX_GRPC", value);
    START_HOST(host, o);
    const Handshake& h = host->handshake();
    ASSERT_EQ(h.fields.size(), 7u) << h.raw;
    EXPECT_EQ(h.mux, "false") << h.raw;
    SETUP_MOUNT(mount, host, {});
    ExpectKvRoundTrip(*mount, "mux", "off");
  }
}

TEST(IntegrationHandshakeTest, HealthServesPlugin) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  auto h = host->HealthCheck("plugin");
  ASSERT_TRUE(h.ok()) << h.status.error_message();
  EXPECT_EQ(h.reply, 1);  // SERVING
}

TEST(IntegrationHandshakeTest, HonoursPluginUnixSocketDir) {
  char tmpl[] = "/tmp/tc-sockdir-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  HostOptions o = Options(TlsMode::kAutoMtls);
  o.extra_env.emplace_back("PLUGIN_UNIX_SOCKET_DIR", dir);
  {
    START_HOST(host, o);
    EXPECT_EQ(host->handshake().address.rfind(dir + "/", 0), 0u) << host->handshake().address;
    (void)host->Shutdown();
    EXPECT_TRUE(host->WaitExit(5s).has_value());
  }
  rmdir(dir.c_str());
}

// Vault compares Type/SpecialPaths of the metadata-mode and the real process
// (reflect.DeepEqual); neither may touch storage.
void ExpectSameMetadataAnswers(const std::string& binary) {
  std::string answers[2];
  int i = 0;
  for (TlsMode mode : {TlsMode::kPlaintext, TlsMode::kAutoMtls}) {
    HostOptions o = Options(mode, mode == TlsMode::kPlaintext ? "4" : "5");
    o.binary = binary;
    START_HOST(host, o);
    SETUP_MOUNT(mount, host, {});
    auto type = mount->Type();
    auto paths = mount->SpecialPaths();
    ASSERT_TRUE(type.ok() && paths.ok()) << TlsModeName(mode);
    EXPECT_EQ(type.reply.type(), 1u);
    answers[i++] = type.reply.SerializeAsString() + "|" + paths.reply.SerializeAsString();
    EXPECT_EQ(mount->storage().gets() + mount->storage().puts() + mount->storage().lists(), 0)
        << "Setup/Type/SpecialPaths must not touch storage (" << TlsModeName(mode) << ")";
  }
  EXPECT_EQ(answers[0], answers[1]);
}

TEST(IntegrationHandshakeTest, MetadataAndNormalModeAnswerAlike) { ExpectSameMetadataAnswers(MockPluginPath()); }

#ifdef TASKCRED_HAS_PLUGIN_BINARY
// The real plugin binary behaves the same at the protocol level.
TEST(IntegrationTaskcredBinaryTest, HandshakeSetupAndMetadataAnswers) {
  ExpectSameMetadataAnswers(TaskcredPluginPath());
}

TEST(IntegrationTaskcredBinaryTest, RunByHandExplainsItself) {
  HostOptions o = Options(TlsMode::kAutoMtls);
  o.binary = TaskcredPluginPath();
  o.cookie = std::nullopt;
  auto launched = PluginHost::Launch(o);
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  auto exit = (*launched)->WaitExit(5s);
  ASSERT_TRUE(exit.has_value());
  (*launched)->process().WaitOutputClosed();
  EXPECT_EQ(exit->code, 1);
  EXPECT_EQ((*launched)->process().StdoutText(), "");
  EXPECT_NE((*launched)->process().StderrText().find("plugin"), std::string::npos);
}

TEST(IntegrationTaskcredBinaryTest, PrintsAutoMtlsHandshake) {
  // How fast the line comes is measured by taskcred-bench (start-up), not
  // asserted here: a wall-clock bound in a test fails on a loaded CI box.
  HostOptions o = Options(TlsMode::kAutoMtls);
  o.binary = TaskcredPluginPath();
  o.connect = false;
  START_HOST(host, o);
  EXPECT_EQ(host->handshake().app_version, 5);
  EXPECT_TRUE(host->handshake().cert_der.has_value());
}
#endif

// ------------------------------------------------------ broker and Backend

class IntegrationBrokerTest : public ::testing::TestWithParam<ConnInfoOrder> {};

TEST_P(IntegrationBrokerTest, ConnInfoOrderDoesNotMatter) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  SetupOptions s;
  s.conninfo = GetParam();
  SETUP_MOUNT(mount, host, s);
  ExpectKvRoundTrip(*mount, "order", "ok");
}

INSTANTIATE_TEST_SUITE_P(Orders, IntegrationBrokerTest,
                         ::testing::Values(ConnInfoOrder::kBeforeSetup, ConnInfoOrder::kAfterSetup),
                         [](const auto& tpi) {
                           return tpi.param == ConnInfoOrder::kBeforeSetup ? "before_setup" : "after_setup";
                         });

TEST(IntegrationBrokerTest, MissingConnInfoFailsSetupInTime) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  SetupOptions s;
  s.conninfo = ConnInfoOrder::kNever;
  auto t0 = std::chrono::steady_clock::now();
  auto mount = host->Setup(s);
  ASSERT_TRUE(mount.ok()) << mount.status().ToString();
  const auto& setup = (*mount)->setup();
  EXPECT_TRUE(!setup.ok() || !setup.reply.err().empty()) << "Setup must fail without a broker connection";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);  // go-plugin waits 5 s for a ConnInfo
  EXPECT_TRUE(host->process().Running());
  SETUP_MOUNT(good, host, {});  // the next mount works
  ExpectKvRoundTrip(*good, "k", "v");
}

TEST(IntegrationBrokerTest, LongLivedStreamsStayOpen) {
  START_HOST(host, Options(TlsMode::kAutoMtls));  // v5: stdio + broker streams, like go-plugin >= 1.1
  SETUP_MOUNT(mount, host, {});
  ExpectKvRoundTrip(*mount, "streams", "v");
  EXPECT_TRUE(host->StdioStreamOpen()) << "StreamStdio must be held open, not answered";
}

TEST(IntegrationBackendTest, VaultCallSequenceThroughBrokeredStorage) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  auto mux = host->MultiplexingSupport();
  ASSERT_TRUE(mux.ok()) << mux.status.error_message();
  EXPECT_TRUE(mux.reply.supported());
  SETUP_MOUNT(mount, host, {});
  auto type = mount->Type();
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(type.reply.type(), 1u);
  auto paths = mount->SpecialPaths();
  ASSERT_TRUE(paths.ok()) << paths.status.error_message();
  auto paths_again = mount->SpecialPaths();
  EXPECT_EQ(paths.reply.SerializeAsString(), paths_again.reply.SerializeAsString());
  auto init = mount->Initialize();
  ASSERT_TRUE(init.ok() || init.status.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(init.reply.err().err_msg(), "");

  auto missing = mount->HandleRequest(MakeRequest("read", "kv/a"));
  EXPECT_EQ(missing.http_status, 404) << missing.reply.DebugString();
  auto exist0 = mount->HandleExistenceCheck(MakeRequest("update", "kv/a"));
  ASSERT_TRUE(exist0.ok());
  EXPECT_TRUE(exist0.reply.check_found());
  EXPECT_FALSE(exist0.reply.exists());

  ExpectKvRoundTrip(*mount, "a", "alpha");
  ExpectKvRoundTrip(*mount, "b", "beta");
  EXPECT_TRUE(StorageHolds(mount->storage(), "alpha"));
  EXPECT_GT(mount->storage().puts(), 0);
  EXPECT_GT(mount->storage().gets(), 0);
  auto exist1 = mount->HandleExistenceCheck(MakeRequest("update", "kv/a"));
  ASSERT_TRUE(exist1.ok());
  EXPECT_TRUE(exist1.reply.exists());

  auto list = mount->HandleRequest(MakeRequest("list", "kv/"));
  EXPECT_EQ(list.http_status, 200) << list.reply.DebugString();
  EXPECT_EQ(list.data["keys"], nlohmann::json({"a", "b"}));

  auto del = mount->HandleRequest(MakeRequest("delete", "kv/a"));
  EXPECT_TRUE(del.http_status == 204 || del.http_status == 200) << del.http_status;
  EXPECT_FALSE(StorageHolds(mount->storage(), "alpha"));
  EXPECT_EQ(mount->HandleRequest(MakeRequest("read", "kv/a")).http_status, 404);

  auto cleanup = mount->Cleanup();
  EXPECT_TRUE(cleanup.ok()) << cleanup.status.error_message();
}

TEST(IntegrationBackendTest, TenMiBValueRoundTrip) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  SETUP_MOUNT(mount, host, {});
  std::string big(10u << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  ExpectKvRoundTrip(*mount, "big", big);
  bool found = false;
  for (const auto& [k, e] : mount->storage().Snapshot()) found = found || e.value.size() >= big.size();
  EXPECT_TRUE(found) << "the 10 MiB value went through the brokered storage";
}

TEST(IntegrationBackendTest, StorageFailureIsAnErrorNotACrash) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  SETUP_MOUNT(mount, host, {});
  mount->storage().FailPuts(1, "disk on fire");
  auto w = mount->HandleRequest(MakeRequest("update", "kv/f", {{"value", "v"}}));
  EXPECT_TRUE(w.status.ok()) << w.status.error_message();
  EXPECT_GE(w.http_status, 500) << w.reply.DebugString();
  EXPECT_TRUE(host->process().Running());
  ExpectKvRoundTrip(*mount, "f", "v");  // the next Put succeeds
}

struct ErrorCase {
  const char* kind;
  int http_status;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.kind; }

// One plugin serves every error kind of the table.
class IntegrationErrorKindTest : public ::testing::TestWithParam<ErrorCase> {
 protected:
  static void SetUpTestSuite() {
    auto h = PluginHost::Start(Options(TlsMode::kAutoMtls));
    if (!h.ok()) {
      start_error_ = h.status().ToString();
      return;
    }
    host_ = std::move(h).value();
    auto m = host_->Setup({});
    if (!m.ok()) {
      start_error_ = m.status().ToString();
      return;
    }
    mount_ = *m;
  }
  static void TearDownTestSuite() {
    mount_ = nullptr;
    host_.reset();
  }
  static inline std::unique_ptr<PluginHost> host_;
  static inline Mount* mount_ = nullptr;
  static inline std::string start_error_;
};

TEST_P(IntegrationErrorKindTest, MapsToVaultStatus) {
  ASSERT_NE(mount_, nullptr) << start_error_;
  auto r = mount_->HandleRequest(MakeRequest("read", std::string("errors/") + GetParam().kind));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.http_status, GetParam().http_status) << r.reply.DebugString();
  if (r.reply.has_err()) {
    EXPECT_LE(r.reply.err().err_type(), 10u);
  }
  if (r.data.is_object() && r.data.contains("error")) {
    EXPECT_TRUE(r.data["error"].is_string());
  }
  EXPECT_TRUE(host_->process().Running());
}

INSTANTIATE_TEST_SUITE_P(Kinds, IntegrationErrorKindTest,
                         ::testing::Values(ErrorCase{"invalid_argument", 400}, ErrorCase{"permission_denied", 403},
                                           ErrorCase{"unsupported_operation", 405},
                                           ErrorCase{"unsupported_path", 404}, ErrorCase{"invalid_request", 400},
                                           ErrorCase{"coded", 409}, ErrorCase{"unrecoverable", 500},
                                           ErrorCase{"internal", 500}, ErrorCase{"unavailable", 500},
                                           ErrorCase{"deadline_exceeded", 500}, ErrorCase{"throw", 500}),
                         [](const auto& tpi) { return std::string(tpi.param.kind); });

TEST(IntegrationBackendTest, TwoMultiplexedMountsAreIsolated) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  ASSERT_TRUE(host->MultiplexingSupport().reply.supported());
  SetupOptions a, b;
  a.multiplex_id = "mountAAAAA";
  b.multiplex_id = "mountBBBBB";
  SETUP_MOUNT(one, host, a);
  SETUP_MOUNT(two, host, b);
  EXPECT_NE(one->broker_id(), two->broker_id());
  ExpectKvRoundTrip(*one, "shared-name", "in-one");
  EXPECT_EQ(two->HandleRequest(MakeRequest("read", "kv/shared-name")).http_status, 404);
  ExpectKvRoundTrip(*two, "shared-name", "in-two");
  auto r1 = one->HandleRequest(MakeRequest("read", "kv/shared-name"));
  EXPECT_EQ(r1.data.value("value", ""), "in-one");
  EXPECT_TRUE(StorageHolds(one->storage(), "in-one"));
  EXPECT_FALSE(StorageHolds(one->storage(), "in-two"));
  EXPECT_FALSE(StorageHolds(two->storage(), "in-one"));
  // Cleaning up one mount leaves the other serving.
  EXPECT_TRUE(one->Cleanup().ok());
  ExpectKvRoundTrip(*two, "after-cleanup", "still-here");
}

TEST(IntegrationBackendTest, VersionIsSemver) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  SETUP_MOUNT(mount, host, {});
  auto v = mount->Version();
  ASSERT_TRUE(v.ok()) << v.status.error_message();
  static const std::regex kSemver(
      R"(^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$)");
  EXPECT_TRUE(std::regex_match(v.reply.plugin_version(), kSemver)) << v.reply.plugin_version();
  // Registration calls Version right after Setup, before Initialize.
  auto raw = host->Version(mount->multiplex_id());
  EXPECT_TRUE(raw.ok()) << raw.status.error_message();
  // Any answer other than OK or UNIMPLEMENTED makes the host log through a nil
  // logger on the registration path (protocol.md 6.3).
  for (const std::string& id : {std::string(""), std::string("unknownXYZ")}) {
    auto v2 = host->Version(id);
    EXPECT_TRUE(v2.ok() || v2.status.error_code() == grpc::StatusCode::UNIMPLEMENTED)
        << "multiplex_id '" << id << "': " << v2.status.error_code() << " " << v2.status.error_message();
  }
}

TEST(IntegrationBackendTest, SystemViewReachesThePlugin) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  auto sv = std::make_shared<FakeSystemView>();
  SystemViewConfig c;
  c.plugin_env.set_vault_version("9.8.7-harness");
  ::logical::Entity e;
  e.set_id("entity-123");
  e.set_name("ci-runner");
  c.entities["entity-123"] = e;
  sv->Set(c);
  SetupOptions so;
  so.system_view = sv;
  SETUP_MOUNT(mount, host, so);
  auto env = mount->HandleRequest(MakeRequest("read", "env"));
  EXPECT_EQ(env.http_status, 200) << env.reply.DebugString();
  EXPECT_NE(env.data.dump().find("9.8.7-harness"), std::string::npos) << env.data.dump();
  RequestSpec ent_req = MakeRequest("read", "entity");
  ent_req.entity_id = "entity-123";
  auto ent = mount->HandleRequest(ent_req);
  EXPECT_EQ(ent.http_status, 200) << ent.reply.DebugString();
  EXPECT_NE(ent.data.dump().find("ci-runner"), std::string::npos) << ent.data.dump();
  EXPECT_GT(sv->calls(), 0);
}

TEST(IntegrationBackendTest, SecretRenewRevokeEcho) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  SETUP_MOUNT(mount, host, {});
  auto issued = mount->HandleRequest(MakeRequest("read", "secret"));
  ASSERT_EQ(issued.http_status, 200) << issued.reply.DebugString();
  ASSERT_TRUE(issued.reply.response().has_secret());
  const auto& secret = issued.reply.response().secret();
  EXPECT_TRUE(secret.lease_options().has_issue_time()) << "issue_time is required whenever lease_options is set";
  auto internal = nlohmann::json::parse(secret.internal_data(), nullptr, false);
  EXPECT_FALSE(internal.is_discarded()) << "internal_data must be JSON";
  for (const char* op : {"renew", "revoke"}) {
    RequestSpec spec = MakeRequest(op, "secret");
    spec.secret_internal_data = internal;
    spec.lease_id = "harness/secret/abc";
    auto r = mount->HandleRequest(spec);
    EXPECT_TRUE(r.status.ok()) << op;
    EXPECT_LT(r.http_status, 300) << op << " " << r.reply.DebugString();
  }
}

// ------------------------------------------------- process life and load

TEST(IntegrationLifecycleTest, ShutdownExitsZeroPromptly) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  SETUP_MOUNT(mount, host, {});
  ExpectKvRoundTrip(*mount, "k", "v");
  auto r = host->Shutdown();
  EXPECT_TRUE(r.ok() || r.status.error_code() == grpc::StatusCode::UNAVAILABLE) << r.status.error_message();
  // The plugin gives in-flight RPCs 0.5 s and forces exit at 3 s; 5 s leaves
  // room for a loaded or sanitizer build without hiding a hang.
  auto exit = host->WaitExit(5s);
  ASSERT_TRUE(exit.has_value()) << "still running 5 s after Shutdown";
  EXPECT_TRUE(exit->exited) << exit->ToString();
  EXPECT_EQ(exit->code, 0);
}

TEST(IntegrationLifecycleTest, SigtermExitsCleanlyAndSigintIsIgnored) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  host->process().Signal(SIGINT);
  auto h = host->HealthCheck("plugin");  // still serving after SIGINT
  EXPECT_TRUE(h.ok()) << h.status.error_message();
  EXPECT_TRUE(host->process().Running());
  host->process().Signal(SIGTERM);
  auto exit = host->WaitExit(5s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->exited) << exit->ToString();
  EXPECT_EQ(exit->code, 0);
}

class IntegrationHostDeathTest : public ::testing::TestWithParam<bool> {};

TEST_P(IntegrationHostDeathTest, PluginDoesNotOutliveItsHost) {
  auto check = RunHostDeathCheck(Options(TlsMode::kAutoMtls), /*keep_pipes=*/GetParam(), 5s);
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_TRUE(ParseHandshakeLine(check->handshake_line).ok()) << check->handshake_line;
  EXPECT_TRUE(check->plugin_exit.has_value()) << "plugin " << check->plugin_pid << " survived its host by 5 s";
  EXPECT_LT(check->plugin_lifetime_after_host, 3s);
}

INSTANTIATE_TEST_SUITE_P(Pipes, IntegrationHostDeathTest, ::testing::Bool(),
                         [](const auto& tpi) { return tpi.param ? "pipes_kept_open" : "pipes_closed"; });

TEST(IntegrationLoadTest, SixtyFourConcurrentRequests) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  SETUP_MOUNT(mount, host, {});
  constexpr int kN = 64;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kN);
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      std::string key = "c" + std::to_string(i);
      auto w = mount->HandleRequest(MakeRequest("update", "kv/" + key, {{"value", key}}));
      auto r = mount->HandleRequest(MakeRequest("read", "kv/" + key));
      if (w.status.ok() && r.status.ok() && r.data.is_object() && r.data.value("value", "") == key) {
        ++ok;
      } else {
        failures[i] = w.status.error_message() + " / " + r.status.error_message() + " / " + r.reply.DebugString();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kN);
  for (int i = 0; i < kN; ++i) EXPECT_EQ(failures[i], "") << i;
}

// The plugin serves every request on one event loop by default; a request
// waiting for a brokered answer must suspend, not hold the loop: another
// mount's requests complete while it waits (docs/runtime.md).
void ExpectSlowStorageHoldsUpOnlyItsRequest(const HostOptions& options) {
  START_HOST(host, options);
  SetupOptions a, b;
  a.multiplex_id = "slowAAAAAA";
  b.multiplex_id = "fastBBBBBB";
  SETUP_MOUNT(slow, host, a);
  SETUP_MOUNT(fast, host, b);
  ExpectKvRoundTrip(*slow, "k", "v");
  ExpectKvRoundTrip(*fast, "k", "v");
  slow->storage().SetDelay(3s);
  const int gets_before = slow->storage().gets();
  std::atomic<bool> slow_returned{false};
  std::atomic<int> slow_status{0};
  std::jthread waiter([&] {  // joins on every way out of the test
    slow_status = slow->HandleRequest(MakeRequest("read", "kv/k")).http_status;
    slow_returned = true;
  });
  // Let the slow read reach its storage Get.
  for (int i = 0; i < 400 && slow->storage().gets() == gets_before; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_GT(slow->storage().gets(), gets_before);
  for (int i = 0; i < 20; ++i) {
    auto r = fast->HandleRequest(MakeRequest("read", "kv/k"));
    ASSERT_EQ(r.http_status, 200) << r.error;
  }
  EXPECT_FALSE(slow_returned.load()) << "the fast mount's reads waited for the slow mount's storage";
  waiter.join();
  EXPECT_EQ(slow_status.load(), 200);
}

TEST(IntegrationLoadTest, ABrokeredCallSuspendsOnlyItsRequest) {
  ExpectSlowStorageHoldsUpOnlyItsRequest(Options(TlsMode::kAutoMtls));
}

TEST(IntegrationLoadTest, SeveralEventLoopsServeAlike) {
  HostOptions o = Options(TlsMode::kAutoMtls);
  o.args = {"-event-loops=2"};
  ExpectSlowStorageHoldsUpOnlyItsRequest(o);
  o.args = {};
  o.extra_env = {{"TASKCRED_EVENT_LOOPS", "3"}};
  ExpectSlowStorageHoldsUpOnlyItsRequest(o);
}

TEST(IntegrationLoadTest, BadEventLoopCountIsRefusedAtStart) {
  for (const char* bad : {"-event-loops=0", "-event-loops=x", "-event-loops=65"}) {
    HostOptions o = Options(TlsMode::kAutoMtls);
    o.args = {bad};
    auto host = PluginHost::Start(o);
    ASSERT_FALSE(host.ok()) << bad;
  }
}

TEST(IntegrationLoadTest, DeadlinePropagatesAndPluginKeepsServing) {
  START_HOST(host, Options(TlsMode::kAutoMtls));
  SETUP_MOUNT(mount, host, {});
  auto start = std::chrono::steady_clock::now();
  RequestSpec spec = MakeRequest("read", "sleep", {{"ms", 3000}});
  spec.deadline = 300ms;
  auto slow = mount->HandleRequest(spec);
  EXPECT_EQ(slow.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << slow.reply.DebugString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ExpectKvRoundTrip(*mount, "after-deadline", "alive");

  // The request deadline travels on to the brokered storage calls.
  RequestSpec read = MakeRequest("read", "kv/after-deadline");
  read.deadline = 4s;
  ASSERT_EQ(mount->HandleRequest(read).http_status, 200);
  auto seen = mount->storage().last_deadline();
  ASSERT_TRUE(seen.has_value());
  EXPECT_LE(*seen, 4500ms);  // grpc-timeout encoding rounds up a little at each hop
  EXPECT_GT(*seen, 0ms);

  // A storage call slower than the request deadline ends the request in time.
  mount->storage().SetDelay(3s);
  RequestSpec slow_read = MakeRequest("read", "kv/after-deadline");
  slow_read.deadline = 500ms;
  auto t0 = std::chrono::steady_clock::now();
  auto r = mount->HandleRequest(slow_read);
  EXPECT_NE(r.http_status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  mount->storage().SetDelay(0ms);
}

}  // namespace
}  // namespace taskcred::test
