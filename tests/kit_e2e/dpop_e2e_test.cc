// DPoP-bound credentials end to end (issue 13): minted by the REAL plugin
// (role binding=dpop, creds dpop_jkt), presented to Debian's nginx as
// "Authorization: DPoP <credential>" with a DPoP proof header, and decided by
// the real taskcred-authz sidecar behind auth_request (configuration from
// examples/nginx/taskcred.conf.in, clients addressing https://files.e2e.test).
// A fresh proof of the bound key for the request is served; every other
// proof is refused with 401 and nothing is served.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>

#include "dpop/proof_maker.h"
#include "e2e_util.h"
#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

constexpr char kIssuer[] = "https://vault.e2e.test/v1/taskcred";
constexpr char kExternal[] = "https://files.e2e.test";
constexpr char kBody[] = "bound to a key\n";

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class KitE2eDpopTest : public PluginSuite {};

TEST_F(KitE2eDpopTest, NginxServesOnlyWithAFreshProofOfTheBoundKey) {
  const std::string nginx_bin = e2e::NginxPath();
  if (nginx_bin.empty()) {
    const char* require = std::getenv("TASKCRED_REQUIRE_NGINX");
    if (require != nullptr && std::string(require) == "1") FAIL() << "TASKCRED_REQUIRE_NGINX=1 but nginx is missing";
    GTEST_SKIP() << "nginx not installed (apt-get install nginx-light)";
  }
  Ok("update", "config", {{"issuer", kIssuer}, {"status_list", false}});
  Ok("create", "roles/e2e-dpop", {{"task", "e2e-dpop"}, {"grants", "read file://data/*"}, {"audience", "e2e-files"},
                                  {"ttl", 300}, {"binding", "dpop"}});
  crypto::SigningKey holder = *crypto::SigningKey::Generate(crypto::Algorithm::kES256);
  RequestResult issued = Issue("creds/e2e-dpop", {{"dpop_jkt", Jkt(holder)}});
  ASSERT_EQ(issued.http_status, 200) << issued.error;
  const std::string cred = issued.data["credential"];

  e2e::TempDir dir;
  const std::string jwks = dir.Write("jwks.json", RawBody(Call("read", "jwks")).dump());
  const std::string www = dir.Mkdir("www");
  dir.Write("www/ok.txt", kBody);
  auto sidecar = e2e::Sidecar::Start({"--jwks", jwks, "--issuer", kIssuer, "--audience", "e2e-files", "--external-url",
                                      kExternal, "--threads", "2"});
  ASSERT_TRUE(sidecar.ok()) << sidecar.status().ToString();
  std::unique_ptr<e2e::Nginx> nginx;
  for (int attempt = 0; attempt < 3 && !nginx; ++attempt) {
    const int port = e2e::FreePort();
    auto conf = e2e::RenderTemplate(TASKCRED_E2E_NGINX_TEMPLATE,
                                    {{"LISTEN", "127.0.0.1:" + std::to_string(port)},
                                     {"SIDECAR", "127.0.0.1:" + std::to_string((*sidecar)->port())},
                                     {"ROOT", www},
                                     {"RESOURCE_PREFIX", "file://data"}});
    ASSERT_TRUE(conf.ok()) << conf.status().ToString();
    auto started = e2e::Nginx::Start(nginx_bin, dir.Mkdir("nginx-" + std::to_string(attempt)), *conf, port);
    if (started.ok()) nginx = std::move(started).value();
  }
  ASSERT_TRUE(nginx) << "nginx could not start";

  auto proof = [&](const std::string& jti, const std::function<void(ProofParts&)>& bend = nullptr,
                   const crypto::SigningKey* key = nullptr) {
    const crypto::SigningKey& k = key != nullptr ? *key : holder;
    ProofParts p = GoodProof(k, "GET", std::string(kExternal) + "/ok.txt", cred, Now(), jti);
    if (bend) bend(p);
    return SignProof(k, p);
  };
  auto get = [&](const std::string& authorization, const std::string& dpop) {
    e2e::Headers h = {{"Authorization", authorization}};
    if (!dpop.empty()) h.push_back({"DPoP", dpop});
    return e2e::HttpRequest(nginx->port(), "GET", "/ok.txt?v=1", h);
  };

  const std::string good = proof("e-1");
  e2e::HttpReply served = get("DPoP " + cred, good);
  EXPECT_EQ(served.status, 200) << served.raw;
  EXPECT_EQ(served.body, kBody);

  crypto::SigningKey thief = *crypto::SigningKey::Generate(crypto::Algorithm::kES256);
  struct Case {
    const char* name;
    std::string authorization;
    std::string dpop;
  };
  const std::vector<Case> refused = {
      {"replayed proof", "DPoP " + cred, good},
      {"no proof", "DPoP " + cred, ""},
      {"as a bearer token", "Bearer " + cred, ""},
      {"the thief's key", "DPoP " + cred, proof("e-2", nullptr, &thief)},
      {"another method", "DPoP " + cred, proof("e-3", [](ProofParts& p) { p.claims["htm"] = "PUT"; })},
      {"another URL", "DPoP " + cred,
       proof("e-4", [](ProofParts& p) { p.claims["htu"] = std::string(kExternal) + "/other.txt"; })},
      {"stale", "DPoP " + cred, proof("e-5", [](ProofParts& p) { p.claims["iat"] = Now() - 300; })},
      {"from the future", "DPoP " + cred, proof("e-10", [](ProofParts& p) { p.claims["iat"] = Now() + 300; })},
      {"for another credential", "DPoP " + cred,
       proof("e-11", [](ProofParts& p) { p.claims["ath"] = crypto::Base64UrlEncode(crypto::Sha256("other")); })},
      {"no ath", "DPoP " + cred, proof("e-6", [](ProofParts& p) { p.claims.erase("ath"); })},
      {"alg none", "DPoP " + cred, proof("e-7", [](ProofParts& p) { p.header["alg"] = "none"; })},
      {"HS256", "DPoP " + cred, proof("e-8", [](ProofParts& p) { p.header["alg"] = "HS256"; })},
  };
  for (const Case& c : refused) {
    SCOPED_TRACE(c.name);
    e2e::HttpReply r = get(c.authorization, c.dpop);
    EXPECT_EQ(r.status, 401) << r.raw;
    EXPECT_THAT(r.body, ::testing::Not(::testing::HasSubstr(kBody)));
    EXPECT_THAT(r.headers["www-authenticate"], ::testing::StartsWith("DPoP ")) << r.raw;
  }
  EXPECT_EQ(get("DPoP " + cred, proof("e-9")).status, 200) << "a fresh proof still works";
}

}  // namespace
}  // namespace taskcred::test
