#include "runtime/test_support.h"
#include "runtime/tls.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <map>
#include <nlohmann/json.hpp>

#include "crypto/encoding.h"

namespace taskcred::runtime {
namespace {

using common::ErrorKind;

using test::FakeEnv;

X509* ParseDer(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return d2i_X509(nullptr, &p, static_cast<long>(der.size()));
}

class CertTest : public ::testing::TestWithParam<KeyCurve> {};

TEST_P(CertTest, GeneratedCertHasTheAutoMtlsProfile) {
  auto cert = GenerateSelfSignedCert(GetParam());
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  X509* x = ParseDer(cert->cert_der);
  ASSERT_NE(x, nullptr);
  // SAN DNS:localhost.
  EXPECT_EQ(X509_check_host(x, "localhost", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(x, "example.com", 0, 0, nullptr), 1);
  // EKU serverAuth + clientAuth; keyCertSign; CA.
  uint32_t xku = X509_get_extended_key_usage(x);
  EXPECT_TRUE(xku & XKU_SSL_SERVER);
  EXPECT_TRUE(xku & XKU_SSL_CLIENT);
  EXPECT_TRUE(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
  EXPECT_EQ(X509_check_ca(x), 1);
  // Positive, non-zero serial of at most 16 octets.
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr);
  ASSERT_NE(serial, nullptr);
  EXPECT_FALSE(BN_is_negative(serial));
  EXPECT_FALSE(BN_is_zero(serial));
  EXPECT_LE(BN_num_bytes(serial), 16);
  BN_free(serial);
  // Backdated notBefore.
  int day = 0, sec = 0;
  ASSERT_EQ(ASN1_TIME_diff(&day, &sec, nullptr, X509_get0_notBefore(x)), 1);
  EXPECT_LE(day * 86400 + sec, -25);
  // Self-signed with the returned key.
  EVP_PKEY* pub = X509_get0_pubkey(x);
  EXPECT_EQ(X509_verify(x, pub), 1);
  BIO* kb = BIO_new_mem_buf(cert->key_pem.data(), static_cast<int>(cert->key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(x, key), 1);
  EVP_PKEY_free(key);
  BIO_free(kb);
  X509_free(x);
  EXPECT_EQ(CertCommonName(cert->cert_pem).value(), "localhost");
}

INSTANTIATE_TEST_SUITE_P(Curves, CertTest, ::testing::Values(KeyCurve::kP256, KeyCurve::kP521));

std::string Jwt(const nlohmann::json& claims) {
  return crypto::Base64UrlEncode(R"({"alg":"ES512","typ":"JWT"})") + "." + crypto::Base64UrlEncode(claims.dump()) +
         ".c2ln";
}

TEST(UnwrapTokenTest, AddrClaim) {
  auto addr = UnwrapTokenAddr(Jwt({{"addr", "https://vault:8200"}, {"jti", "x"}}));
  ASSERT_TRUE(addr.ok());
  EXPECT_EQ(*addr, "https://vault:8200");
}

TEST(UnwrapTokenTest, Errors) {
  struct Case {
    std::string name, token, want_substr;
  };
  const std::vector<Case> cases = {
      {"empty", "", "no unwrap token"},
      {"not a jwt", "s.abcdef", "not a JWT"},
      {"four parts", "a.b.c.d", "not a JWT"},
      {"bad base64", "a.!!!.c", "base64url"},
      {"not json", "a." + crypto::Base64UrlEncode("nope") + ".c", "JSON object"},
      {"no addr", Jwt({{"jti", "x"}}), "no vault api_addr found in the unwrap token; set api_addr"},
      {"empty addr", Jwt({{"addr", ""}}), "api_addr"},
      {"addr not string", Jwt({{"addr", 5}}), "api_addr"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = UnwrapTokenAddr(c.token);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want_substr), std::string::npos) << r.status().message();
  }
}

TEST(ApiClientFlagsTest, GoFlagSyntax) {
  auto f = ParseApiClientFlags({"-ca-cert=/ca.pem", "--ca-path", "/cas", "-client-cert", "/c.pem", "--client-key=/k.pem",
                                "-tls-skip-verify", "-tls-server-name=vault.local", "rest", "-ignored"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->ca_cert, "/ca.pem");
  EXPECT_EQ(f->ca_path, "/cas");
  EXPECT_EQ(f->client_cert, "/c.pem");
  EXPECT_EQ(f->client_key, "/k.pem");
  EXPECT_TRUE(f->tls_skip_verify);
  EXPECT_EQ(f->tls_server_name, "vault.local");

  auto g = ParseApiClientFlags({"-tls-skip-verify=false", "--", "-ca-cert=x"});
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->tls_skip_verify);
  EXPECT_EQ(g->ca_cert, "");
  EXPECT_TRUE(ParseApiClientFlags({}).ok());
}

TEST(ApiClientFlagsTest, Errors) {
  const std::vector<std::vector<std::string>> cases = {
      {"-unknown"}, {"-ca-cert"}, {"-tls-skip-verify=maybe"}, {"---ca-cert=x"}, {"-=x"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c[0]);
    EXPECT_EQ(ParseApiClientFlags(c).status().kind(), ErrorKind::kInvalidArgument);
  }
}

TEST(ApiTlsConfigTest, EnvThenFlags) {
  auto env = FakeEnv({{"BAO_CACERT", "/bao-ca"}, {"VAULT_CACERT", "/vault-ca"}, {"VAULT_SKIP_VERIFY", "true"},
                      {"VAULT_TLS_SERVER_NAME", "env-name"}, {"BAO_CLIENT_CERT_BYTES", "CERT"},
                      {"BAO_CLIENT_KEY_BYTES", "KEY"}});
  auto c = ApiTlsConfigFrom(env, {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ca_cert_file, "/bao-ca");
  EXPECT_TRUE(c->skip_verify);
  EXPECT_EQ(c->server_name, "env-name");
  EXPECT_EQ(c->client_cert_pem, "CERT");
  ApiClientFlags f;
  f.ca_cert = "/flag-ca";
  f.tls_server_name = "flag-name";
  auto d = ApiTlsConfigFrom(env, f);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ca_cert_file, "/flag-ca");
  EXPECT_EQ(d->server_name, "flag-name");

  EXPECT_FALSE(ApiTlsConfigFrom(FakeEnv({{"VAULT_CLIENT_CERT", "/c"}}), {}).ok());
  EXPECT_FALSE(ApiTlsConfigFrom(FakeEnv({{"VAULT_SKIP_VERIFY", "maybe"}}), {}).ok());
}

TEST(ApiAddrTest, Parse) {
  auto a = ParseApiAddr("https://vault.example:8200/");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->https);
  EXPECT_EQ(a->host, "vault.example");
  EXPECT_EQ(a->port, "8200");
  EXPECT_EQ(a->base_path, "");
  auto b = ParseApiAddr("http://[::1]/prefix");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, "80");
  EXPECT_EQ(b->base_path, "/prefix");
  EXPECT_FALSE(ParseApiAddr("vault:8200").ok());
  EXPECT_FALSE(ParseApiAddr("http://").ok());
  // Found by the handshake fuzzer: the port and host must be well formed.
  for (const char* bad : {"http://h:notaport", "https://127.0.0.1:82\xc3\xa9", "http://h:0", "http://h:65536",
                          "http://h:123456", "http://[::1]x:80", "http://h o:80", "http://h\x01:80"}) {
    EXPECT_FALSE(ParseApiAddr(bad).ok()) << bad;
  }
  EXPECT_TRUE(ParseApiAddr("http://[::1]:8200").ok());
  EXPECT_TRUE(ParseApiAddr("http://127.0.0.1:65535").ok());
}

TEST(TlsModeTest, MirrorsTheGoSdk) {
  struct Case {
    std::map<std::string, std::string> env;
    TlsMode want;
  };
  const std::vector<Case> cases = {
      {{{"VAULT_PLUGIN_METADATA_MODE", "true"}}, TlsMode::kPlaintext},
      {{{"VAULT_PLUGIN_AUTOMTLS_ENABLED", "true"}, {"PLUGIN_CLIENT_CERT", "PEM"}}, TlsMode::kAutoMtls},
      {{{"BAO_PLUGIN_AUTOMTLS_ENABLED", "false"}, {"VAULT_PLUGIN_AUTOMTLS_ENABLED", "true"}, {"VAULT_UNWRAP_TOKEN", "t"}},
       TlsMode::kLegacy},
      {{{"VAULT_PLUGIN_METADATA_MODE", "false"}, {"VAULT_UNWRAP_TOKEN", "t"}}, TlsMode::kLegacy},
      {{{"PLUGIN_CLIENT_CERT", "PEM"}}, TlsMode::kAutoMtls},
      {{}, TlsMode::kLegacy},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(ChooseTlsMode(FakeEnv(cases[i].env)), cases[i].want);
  }
}

std::pair<std::string, std::string> LegacyCertAndKeyDer(const std::string& cn) {
  test::LegacyIdentity id = test::MakeLegacyIdentity(cn);
  return {id.cert.cert_der, id.sec1_key_der};
}

TEST(UnwrapResponseTest, ParsesCertAndKey) {
  const std::string uuid = "1f2e3d4c-0000-1111-2222-333344445555";
  auto [cert, key] = LegacyCertAndKeyDer(uuid);
  nlohmann::json body = {{"request_id", "r"},
                         {"data", {{"ServerCert", crypto::Base64Encode(cert)}, {"ServerKey", crypto::Base64Encode(key)}}},
                         {"wrap_info", nullptr}};
  auto m = ParseUnwrapResponse(body.dump());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->cert_der, cert);
  EXPECT_EQ(m->trust_pem, m->cert_pem);
  EXPECT_EQ(m->broker_server_name, uuid);
  EXPECT_NE(m->key_pem.find("PRIVATE KEY"), std::string::npos);
}

TEST(UnwrapResponseTest, Errors) {
  auto [cert, key] = LegacyCertAndKeyDer("x");
  auto [cert2, key2] = LegacyCertAndKeyDer("y");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "nope"},
      {"no data", R"({"data":null})"},
      {"missing key", nlohmann::json{{"data", {{"ServerCert", crypto::Base64Encode(cert)}}}}.dump()},
      {"bad base64", R"({"data":{"ServerCert":"***","ServerKey":"***"}})"},
      {"garbage der",
       nlohmann::json{{"data", {{"ServerCert", crypto::Base64Encode("xx")}, {"ServerKey", crypto::Base64Encode(key)}}}}
           .dump()},
      {"mismatched key",
       nlohmann::json{{"data", {{"ServerCert", crypto::Base64Encode(cert)}, {"ServerKey", crypto::Base64Encode(key2)}}}}
           .dump()},
  };
  for (const auto& [name, body] : cases) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(ParseUnwrapResponse(body).ok());
  }
}

TEST(CallUnwrapTest, UnreachableApiIsUnavailable) {
  auto addr = ParseApiAddr("http://127.0.0.1:1");
  ASSERT_TRUE(addr.ok());
  auto r = CallUnwrap(*addr, ApiTlsConfig{}, "token", std::chrono::seconds(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnavailable);
  EXPECT_NE(r.status().message().find("cannot reach the Vault API"), std::string::npos);
}

}  // namespace
}  // namespace taskcred::runtime
