// LegacyTlsMaterial / CallUnwrap against a one-shot in-process Vault API
// (plain HTTP and HTTPS with a custom CA).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include <unistd.h>

#include "crypto/encoding.h"
#include "runtime/test_support.h"
#include "runtime/tls.h"

namespace taskcred::runtime {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using common::ErrorKind;

using test::FakeEnv;
using test::OneShotApi;

std::string Jwt(const std::string& addr) { return test::UnwrapJwt(addr); }
std::string UnwrapBody() { return test::UnwrapResponseBody(test::MakeLegacyIdentity("localhost")); }

TEST(UnwrapCallTest, PlainHttp) {
  OneShotApi api(200, UnwrapBody(), nullptr);
  std::string token = Jwt("http://127.0.0.1:" + std::to_string(api.port()));
  auto m = LegacyTlsMaterial(FakeEnv({{"BAO_UNWRAP_TOKEN", token}, {"VAULT_UNWRAP_TOKEN", "ignored"}}), {});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->broker_server_name, "localhost");  // the CN of the wrapped cert
  OneShotApi::Seen s = api.seen();
  EXPECT_EQ(s.method, "PUT");
  EXPECT_EQ(s.target, "/v1/sys/wrapping/unwrap");
  EXPECT_EQ(s.token, token);
  EXPECT_EQ(s.request_header, "true");
}

TEST(UnwrapCallTest, HttpsWithCaCertFlagAndServerName) {
  auto server_cert = GenerateSelfSignedCert(KeyCurve::kP256);  // SAN DNS:localhost, CA:TRUE
  ASSERT_TRUE(server_cert.ok());
  // Per process: parallel or concurrent runs must not share the CA file.
  std::string ca_file = ::testing::TempDir() + "/taskcred-unwrap-ca-" + std::to_string(::getpid()) + ".pem";
  std::ofstream(ca_file) << server_cert->cert_pem;
  OneShotApi api(200, UnwrapBody(), &*server_cert);
  std::string token = Jwt("https://127.0.0.1:" + std::to_string(api.port()));
  auto m = LegacyTlsMaterial(FakeEnv({{"VAULT_UNWRAP_TOKEN", token}}),
                             {"-ca-cert=" + ca_file, "-tls-server-name", "localhost"});
  std::remove(ca_file.c_str());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(api.seen().target, "/v1/sys/wrapping/unwrap");
}

TEST(UnwrapCallTest, HttpsUntrustedCertFailsClearly) {
  auto server_cert = GenerateSelfSignedCert(KeyCurve::kP256);
  ASSERT_TRUE(server_cert.ok());
  OneShotApi api(200, UnwrapBody(), &*server_cert);
  std::string token = Jwt("https://127.0.0.1:" + std::to_string(api.port()));
  auto m = LegacyTlsMaterial(FakeEnv({{"VAULT_UNWRAP_TOKEN", token}}), {});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().kind(), ErrorKind::kUnavailable);
  EXPECT_NE(m.status().message().find("TLS handshake"), std::string::npos) << m.status().message();
}

TEST(UnwrapCallTest, HttpsSkipVerifyFromEnv) {
  auto server_cert = GenerateSelfSignedCert(KeyCurve::kP256);
  ASSERT_TRUE(server_cert.ok());
  OneShotApi api(200, UnwrapBody(), &*server_cert);
  std::string token = Jwt("https://127.0.0.1:" + std::to_string(api.port()));
  auto m = LegacyTlsMaterial(FakeEnv({{"VAULT_UNWRAP_TOKEN", token}, {"VAULT_SKIP_VERIFY", "true"}}), {});
  EXPECT_TRUE(m.ok()) << m.status().ToString();
}

TEST(UnwrapCallTest, RefusedUnwrapNamesTheStatus) {
  OneShotApi api(400, R"({"errors":["wrapping token is not valid or does not exist"]})", nullptr);
  std::string token = Jwt("http://127.0.0.1:" + std::to_string(api.port()));
  auto m = LegacyTlsMaterial(FakeEnv({{"VAULT_UNWRAP_TOKEN", token}}), {});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(m.status().message().find("HTTP 400"), std::string::npos);
  EXPECT_NE(m.status().message().find("wrapping token is not valid"), std::string::npos);
}

TEST(UnwrapCallTest, MissingTokenAndBadFlags) {
  EXPECT_EQ(LegacyTlsMaterial(FakeEnv({}), {}).status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(LegacyTlsMaterial(FakeEnv({{"VAULT_UNWRAP_TOKEN", Jwt("http://x")}}), {"-bogus"})
                .status()
                .message()
                .find("-bogus"),
            std::string::npos);
}

// A Vault API that accepts TCP connections (the kernel completes them from the
// listen backlog) and never reads or answers.
class SilentApi {
 public:
  SilentApi() : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  unsigned short port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
};

TEST(UnwrapCallTest, SilentApiTimesOutWhileWaitingForTheResponse) {
  SilentApi api;
  ApiAddr addr{false, "127.0.0.1", std::to_string(api.port()), ""};
  auto start = std::chrono::steady_clock::now();
  auto body = CallUnwrap(addr, ApiTlsConfig{}, "token", std::chrono::seconds(1));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().kind(), ErrorKind::kUnavailable);
  EXPECT_NE(body.status().message().find("did not answer the unwrap call within 1 s"), std::string::npos)
      << body.status().message();
  EXPECT_NE(body.status().message().find("waiting for the response"), std::string::npos);
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(UnwrapCallTest, SilentApiTimesOutInTheTlsHandshake) {
  SilentApi api;
  ApiAddr addr{true, "127.0.0.1", std::to_string(api.port()), ""};
  ApiTlsConfig tls;
  tls.skip_verify = true;
  auto start = std::chrono::steady_clock::now();
  auto body = CallUnwrap(addr, tls, "token", std::chrono::seconds(1));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("TLS handshake"), std::string::npos) << body.status().message();
  EXPECT_NE(body.status().message().find("within 1 s"), std::string::npos) << body.status().message();
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(UnwrapCallTest, TimeoutFromTheEnvironment) {
  struct Case {
    std::string value;
    bool ok;
    int seconds;
  };
  const std::vector<Case> cases = {
      {"", true, 30}, {"2", true, 2}, {"3600", true, 3600}, {"0", false, 0},
      {"3601", false, 0}, {"-1", false, 0}, {"1s", false, 0}, {"99999999999", false, 0},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.value);
    std::map<std::string, std::string> vars;
    if (!tc.value.empty()) vars[std::string(kUnwrapTimeoutEnv)] = tc.value;
    auto t = UnwrapTimeout(FakeEnv(vars));
    ASSERT_EQ(t.ok(), tc.ok);
    if (tc.ok) {
      EXPECT_EQ(t->count(), tc.seconds);
    } else {
      EXPECT_EQ(t.status().kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(t.status().message().find("TASKCRED_UNWRAP_TIMEOUT"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace taskcred::runtime
