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

#include "crypto/encoding.h"
#include "runtime/tls.h"

namespace taskcred::runtime {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using common::ErrorKind;

struct Seen {
  std::string method, target, token, request_header;
};

// Serves exactly one request, then stops.
class OneShotApi {
 public:
  OneShotApi(int status, std::string body, const GeneratedCert* tls_cert)
      : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, status, body = std::move(body), tls_cert] {
      boost::system::error_code ec;
      asio::ip::tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec) return;
      if (tls_cert == nullptr) {
        Serve(socket, status, body);
        return;
      }
      asio::ssl::context ctx(asio::ssl::context::tls_server);
      ctx.use_certificate_chain(asio::buffer(tls_cert->cert_pem), ec);
      ctx.use_private_key(asio::buffer(tls_cert->key_pem), asio::ssl::context::pem, ec);
      asio::ssl::stream<asio::ip::tcp::socket&> stream(socket, ctx);
      stream.handshake(asio::ssl::stream_base::server, ec);
      if (ec) return;
      Serve(stream, status, body);
    });
  }
  ~OneShotApi() {
    acceptor_.close();
    thread_.join();
  }
  unsigned short port() const { return port_; }
  Seen seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }

 private:
  template <typename Stream>
  void Serve(Stream& s, int status, const std::string& body) {
    boost::beast::flat_buffer buf;
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(s, buf, req, ec);
    if (ec) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      seen_ = {std::string(req.method_string()), std::string(req.target()), std::string(req["X-Vault-Token"]),
               std::string(req["X-Vault-Request"])};
    }
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.body() = body;
    res.prepare_payload();
    http::write(s, res, ec);
  }

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  Seen seen_;
};

std::string Jwt(const std::string& addr) {
  return crypto::Base64UrlEncode(R"({"alg":"ES512"})") + "." +
         crypto::Base64UrlEncode(nlohmann::json{{"addr", addr}, {"jti", "wrap-id"}}.dump()) + ".c2ln";
}

// A Vault-style wrapped identity: the unwrap response body.
std::string UnwrapBody() {
  auto id = GenerateSelfSignedCert(KeyCurve::kP521);
  EXPECT_TRUE(id.ok());
  BIO* b = BIO_new_mem_buf(id->key_pem.data(), static_cast<int>(id->key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  unsigned char* k = nullptr;
  int kn = i2d_PrivateKey(key, &k);
  std::string sec1(reinterpret_cast<char*>(k), static_cast<size_t>(kn));
  OPENSSL_free(k);
  EVP_PKEY_free(key);
  BIO_free(b);
  return nlohmann::json{{"data", {{"ServerCert", crypto::Base64Encode(id->cert_der)},
                                  {"ServerKey", crypto::Base64Encode(sec1)}}}}
      .dump();
}

EnvGetter FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(UnwrapCallTest, PlainHttp) {
  OneShotApi api(200, UnwrapBody(), nullptr);
  std::string token = Jwt("http://127.0.0.1:" + std::to_string(api.port()));
  auto m = LegacyTlsMaterial(FakeEnv({{"BAO_UNWRAP_TOKEN", token}, {"VAULT_UNWRAP_TOKEN", "ignored"}}), {});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->broker_server_name, "localhost");  // the CN of the wrapped cert
  Seen s = api.seen();
  EXPECT_EQ(s.method, "PUT");
  EXPECT_EQ(s.target, "/v1/sys/wrapping/unwrap");
  EXPECT_EQ(s.token, token);
  EXPECT_EQ(s.request_header, "true");
}

TEST(UnwrapCallTest, HttpsWithCaCertFlagAndServerName) {
  auto server_cert = GenerateSelfSignedCert(KeyCurve::kP256);  // SAN DNS:localhost, CA:TRUE
  ASSERT_TRUE(server_cert.ok());
  std::string ca_file = ::testing::TempDir() + "/taskcred-unwrap-ca.pem";
  std::ofstream(ca_file) << server_cert->cert_pem;
  OneShotApi api(200, UnwrapBody(), &*server_cert);
  std::string token = Jwt("https://127.0.0.1:" + std::to_string(api.port()));
  auto m = LegacyTlsMaterial(FakeEnv({{"VAULT_UNWRAP_TOKEN", token}}),
                             {"-ca-cert=" + ca_file, "-tls-server-name", "localhost"});
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

}  // namespace
}  // namespace taskcred::runtime
