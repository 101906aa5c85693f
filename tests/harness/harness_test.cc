// Tests of the harness pieces that do not need a plugin: handshake parsing,
// base64, certificate profiles, the fake Vault API and process handling.
#include <signal.h>

#include <utility>  // before Boost.Asio: its awaitable.hpp misses it under C++20

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "harness/certs.h"
#include "harness/fake_vault_api.h"
#include "harness/handshake.h"
#include "harness/process.h"
#include "harness/secrets.h"

namespace taskcred::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

TEST(HarnessBase64Test, RoundTripsEveryLength) {
  std::string data;
  for (int n = 0; n < 40; ++n) {
    for (bool padded : {false, true}) {
      std::string enc = Base64Encode(data, padded);
      EXPECT_EQ(enc.find('=') != std::string::npos, padded && n % 3 != 0) << n;
      auto dec = Base64Decode(enc, padded);
      ASSERT_TRUE(dec.ok()) << dec.status().ToString();
      EXPECT_EQ(*dec, data);
    }
    data += static_cast<char>(n * 37 + 200);
  }
}

TEST(HarnessBase64Test, RejectsPaddingWhenUnpaddedExpected) {
  EXPECT_FALSE(Base64Decode("QQ==", false).ok());
  EXPECT_FALSE(Base64Decode("QQ", true).ok());
  EXPECT_FALSE(Base64Decode("Q", false).ok());
  EXPECT_FALSE(Base64Decode("QR", false).ok());  // non-zero trailing bits
  EXPECT_FALSE(Base64Decode("Q-", false).ok());
}

TEST(HarnessHandshakeParseTest, Table) {
  struct Case {
    std::string line;
    bool ok;
    int app;
    bool has_cert;
    bool has_mux;
  };
  std::string cert = Base64Encode(std::string(60, 'x'), false);
  std::vector<Case> cases = {
      {"1|4|unix|/tmp/plugin1|grpc", true, 4, false, false},
      {"1|5|unix|/tmp/plugin1|grpc|", true, 5, false, false},
      {"1|5|unix|/tmp/plugin1|grpc|" + cert, true, 5, true, false},
      {"1|5|unix|/tmp/plugin1|grpc|" + cert + "|true", true, 5, true, true},
      {"1|5|tcp|127.0.0.1:10000|grpc", true, 5, false, false},
      {"2|5|unix|/tmp/p|grpc", false, 0, false, false},
      {"1|x|unix|/tmp/p|grpc", false, 0, false, false},
      {"1|5|unix|/tmp/p", false, 0, false, false},
      {"1|5|pipe|/tmp/p|grpc", false, 0, false, false},
      {"1|5|unix|/tmp/p|grpc|" + Base64Encode(std::string(61, 'x'), true), false, 0, false, false},
  };
  for (const auto& c : cases) {
    auto h = ParseHandshakeLine(c.line);
    EXPECT_EQ(h.ok(), c.ok) << c.line << " " << h.status().ToString();
    if (!h.ok() || !c.ok) continue;
    EXPECT_EQ(h->app_version, c.app);
    EXPECT_EQ(h->cert_der.has_value(), c.has_cert) << c.line;
    EXPECT_EQ(h->mux.has_value(), c.has_mux) << c.line;
  }
  auto h = ParseHandshakeLine("1|4|unix|/tmp/plugin1|grpc");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->GrpcTarget(), "unix:/tmp/plugin1");
}

TEST(HarnessLogLineTest, AppliesHostRules) {
  auto ok = ParseLogLine(R"({"@level":"info","@message":"hi","@module":"m","@timestamp":"2026-01-02T03:04:05.123456Z","k":1})");
  EXPECT_TRUE(ok.json);
  EXPECT_EQ(ok.level, "info");
  EXPECT_EQ(ok.message, "hi");
  EXPECT_EQ(ok.module, "m");
  EXPECT_EQ(ok.object["k"], 1);
  EXPECT_FALSE(ParseLogLine(R"({"@level":"info","@message":"hi","@timestamp":"2026-01-02T03:04:05.123Z"})").json);
  EXPECT_FALSE(ParseLogLine(R"({"@level":"info","@message":5,"@timestamp":"2026-01-02T03:04:05.123456Z"})").json);
  EXPECT_FALSE(ParseLogLine("[INFO] plain").json);
  EXPECT_TRUE(IsHclogTimestamp("2026-01-02T03:04:05.123456+02:00"));
  EXPECT_FALSE(IsHclogTimestamp("2026-01-02 03:04:05.123456Z"));
}

TEST(HarnessCertsTest, AutoMtlsProfileMatchesGoPlugin) {
  auto ck = GenerateAutoMtlsCert();
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  auto info = InspectCert(ck->cert_der);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->curve, "secp521r1");
  EXPECT_EQ(info->subject_cn, "localhost");
  EXPECT_EQ(info->dns_sans, std::vector<std::string>{"localhost"});
  EXPECT_TRUE(info->eku_client_auth);
  EXPECT_TRUE(info->eku_server_auth);
  EXPECT_TRUE(info->is_ca);
  EXPECT_TRUE(info->key_cert_sign);
  EXPECT_TRUE(info->serial_positive);
  EXPECT_GE(info->seconds_since_not_before, 29);
  EXPECT_GT(info->seconds_valid_from_now, 262900L * 3600L);
  EXPECT_NE(ck->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(ck->key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
}

TEST(HarnessCertsTest, LegacyProfileMatchesVault) {
  auto ck = GenerateLegacyTlsCert();
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  auto info = InspectCert(ck->cert_der);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->curve, "secp521r1");
  EXPECT_EQ(info->subject_cn.size(), 36u);
  EXPECT_EQ(info->subject_cn, ck->common_name);
  EXPECT_EQ(info->dns_sans, std::vector<std::string>{ck->common_name});
  EXPECT_FALSE(info->is_ca);
  EXPECT_FALSE(info->key_cert_sign);
  EXPECT_FALSE(ck->key_sec1_der.empty());
  EXPECT_EQ(static_cast<unsigned char>(ck->key_sec1_der[0]), 0x30);  // SEQUENCE
}

// Minimal HTTP(S) client for the fake API test.
struct HttpResult {
  int status = 0;
  std::string body;
};
HttpResult Put(const FakeVaultApi& api, const std::string& token, const std::string* ca_pem) {
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(api.port())});
  http::request<http::string_body> req{http::verb::put, "/v1/sys/wrapping/unwrap", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set("X-Vault-Token", token);
  req.prepare_payload();
  http::response<http::string_body> res;
  beast::flat_buffer buf;
  if (ca_pem != nullptr) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.add_certificate_authority(asio::buffer(*ca_pem));
    ctx.set_verify_mode(asio::ssl::verify_peer);
    asio::ssl::stream<asio::ip::tcp::socket&> tls(sock, ctx);
    tls.set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
    tls.handshake(asio::ssl::stream_base::client);
    http::write(tls, req);
    http::read(tls, buf, res);
  } else {
    http::write(sock, req);
    http::read(sock, buf, res);
  }
  return {static_cast<int>(res.result_int()), res.body()};
}

TEST(HarnessFakeVaultApiTest, UnwrapIsSingleUseOverHttpAndHttps) {
  auto ca = GenerateTestCa("harness test CA");
  ASSERT_TRUE(ca.ok());
  auto server = IssueServerCert(*ca, "fake-vault");
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  for (bool tls : {false, true}) {
    auto api = FakeVaultApi::Start({tls, *server});
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    EXPECT_EQ((*api)->addr().rfind(tls ? "https://127.0.0.1:" : "http://127.0.0.1:", 0), 0u);
    auto cert = GenerateLegacyTlsCert();
    ASSERT_TRUE(cert.ok());
    std::string jwt = MakeUnwrapJwt((*api)->addr(), "jti-1");
    (*api)->AddWrappedSecret(jwt, WrappedPluginTlsData(*cert));
    const std::string* ca_pem = tls ? &ca->cert_pem : nullptr;
    HttpResult first = Put(**api, jwt, ca_pem);
    EXPECT_EQ(first.status, 200);
    auto body = nlohmann::json::parse(first.body);
    auto der = Base64Decode(body["data"]["ServerCert"].get<std::string>(), true);
    ASSERT_TRUE(der.ok());
    EXPECT_EQ(*der, cert->cert_der);
    EXPECT_EQ(Put(**api, jwt, ca_pem).status, 400);
    EXPECT_EQ(Put(**api, "other", ca_pem).status, 400);
    (*api)->RefuseAll(403, "permission denied");
    EXPECT_EQ(Put(**api, jwt, ca_pem).status, 403);
    EXPECT_EQ((*api)->Requests().size(), 4u);
  }
}

TEST(HarnessUnwrapJwtTest, PayloadCarriesAddr) {
  std::string jwt = MakeUnwrapJwt("http://127.0.0.1:8200", "abc");
  size_t d1 = jwt.find('.'), d2 = jwt.rfind('.');
  ASSERT_NE(d1, d2);
  std::string payload = jwt.substr(d1 + 1, d2 - d1 - 1);
  for (char& c : payload) c = c == '-' ? '+' : c == '_' ? '/' : c;
  auto raw = Base64Decode(payload, false);
  ASSERT_TRUE(raw.ok());
  auto j = nlohmann::json::parse(*raw);
  EXPECT_EQ(j["addr"], "http://127.0.0.1:8200");
  EXPECT_EQ(j["jti"], "abc");
  EXPECT_FALSE(nlohmann::json::parse(*Base64Decode(
                   [&] {
                     std::string p = MakeUnwrapJwt(std::nullopt, "x");
                     size_t a = p.find('.'), b = p.rfind('.');
                     std::string s = p.substr(a + 1, b - a - 1);
                     for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
                     return s;
                   }(),
                   false))
                   .contains("addr"));
}

TEST(HarnessProcessTest, CapturesStdoutStderrAndExit) {
  auto p = PluginProcess::Launch({"/bin/sh", {"-c", "echo \"$GREETING\"; echo line2; echo err1 >&2; exit 3"},
                                  {{"GREETING", "first"}, {"GREETING", "hello"}}});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto line = (*p)->WaitForFirstStdoutLine(5s);
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  EXPECT_EQ(*line, "hello");
  auto exit = (*p)->WaitExit(5s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 3);
  (*p)->WaitOutputClosed();
  EXPECT_EQ((*p)->StdoutText(), "hello\nline2\n");
  EXPECT_EQ((*p)->StderrLines(), std::vector<std::string>{"err1"});
}

TEST(HarnessProcessTest, OutputIsCompleteOnceWaitExitReturns) {
  // Callers read StderrText right after WaitExit: the last line written just
  // before exit must be there without a separate wait.
  for (int run = 0; run < 10; ++run) {
    auto p = PluginProcess::Launch(
        {"/bin/sh", {"-c", "i=0; while [ $i -lt 500 ]; do echo line$i >&2; i=$((i+1)); done; echo stopped >&2"}, {}});
    ASSERT_TRUE(p.ok());
    auto exit = (*p)->WaitExit(10s);
    ASSERT_TRUE(exit.has_value());
    EXPECT_NE((*p)->StderrText().find("line499\nstopped\n"), std::string::npos) << "run " << run;
    EXPECT_EQ((*p)->StderrLines().size(), 501u) << "run " << run;
  }
}

TEST(HarnessSecretsTest, SecretPartIsTheWholeRandomPartEvenWithUnderscores) {
  const std::string id = "0a1b2c3d-0000-4000-8000-000000000001";
  EXPECT_EQ(SecretPart("tcop_" + id + "_abc_def_"), "abc_def_");
  EXPECT_EQ(SecretPart("tcop_" + id + "_xyz"), "xyz");
  EXPECT_EQ(SecretPart("eyJh.eyJi.sig_with_under_"), "sig_with_under_");
  EXPECT_EQ(SecretPart("eyJh.eyJi._"), "_");
  EXPECT_EQ(SecretPart("no-separator"), "no-separator");
}

TEST(HarnessProcessTest, NoLineBeforeExitIsAnError) {
  auto p = PluginProcess::Launch({"/bin/sh", {"-c", "printf partial; exit 1"}, {}});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE((*p)->WaitForFirstStdoutLine(5s).ok());
}

TEST(HarnessProcessTest, KillReportsSignal) {
  auto p = PluginProcess::Launch({"/bin/sh", {"-c", "echo up; exec sleep 30"}, {}});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->WaitForFirstStdoutLine(5s).ok());
  EXPECT_TRUE((*p)->Running());
  (*p)->Kill();
  auto exit = (*p)->WaitExit(5s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->signal, SIGKILL);
}

TEST(HarnessProcessTest, MissingBinaryFails) {
  EXPECT_FALSE(PluginProcess::Launch({"/nonexistent/plugin", {}, {}}).ok());
}

}  // namespace
}  // namespace taskcred::test
