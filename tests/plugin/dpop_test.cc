// DPoP-bound credentials through the real plugin binary (design.md,
// "Sender-constrained credentials"): issuance with dpop_jkt, and introspect
// accepting a proof of the bound key once and refusing everything else.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/jwt.h"
#include "dpop/proof_maker.h"
#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

class PluginDpopTest : public PluginSuite {};

TEST_F(PluginDpopTest, ABoundCredentialIsActiveOnlyWithAFreshProofOfItsKey) {
  Ok("create", "roles/dpop-job", {{"task", "job"}, {"grants", "read file://data/*"}, {"ttl", "10m"},
                                  {"binding", "dpop"}});
  auto key = crypto::SigningKey::Generate(crypto::Algorithm::kEdDSA);
  ASSERT_TRUE(key.ok());
  const std::string jkt = Jkt(*key);
  EXPECT_TRUE(IsBadRequestNaming(Call("update", "creds/dpop-job", json::object()), "dpop_jkt"));
  RequestResult issued = Issue("creds/dpop-job", {{"dpop_jkt", jkt}});
  ASSERT_EQ(issued.http_status, 200) << issued.error;
  EXPECT_EQ(issued.data["cnf"], (json{{"jkt", jkt}}));
  const std::string cred = issued.data["credential"];
  EXPECT_EQ(crypto::DecodeJwt(cred)->claims["cnf"]["jkt"], jkt);

  const std::string url = "https://files.example/data/ok.txt";
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto introspect = [&](const std::string& proof) {
    return Ok("update", "introspect", {{"token", cred}, {"dpop_proof", proof}, {"method", "GET"}, {"url", url}});
  };
  EXPECT_EQ(Ok("update", "introspect", {{"token", cred}}), json({{"active", false}})) << "no proof";
  const std::string proof = SignProof(*key, GoodProof(*key, "GET", url, cred, now, "p-1"));
  json active = introspect(proof);
  EXPECT_EQ(active["active"], true);
  EXPECT_EQ(active["cnf"], (json{{"jkt", jkt}}));
  EXPECT_EQ(introspect(proof), json({{"active", false}})) << "replayed";
  auto thief = crypto::SigningKey::Generate(crypto::Algorithm::kEdDSA);
  EXPECT_EQ(introspect(SignProof(*thief, GoodProof(*thief, "GET", url, cred, now, "p-2"))),
            json({{"active", false}}));
  EXPECT_EQ(introspect(SignProof(*key, GoodProof(*key, "POST", url, cred, now, "p-3"))), json({{"active", false}}));
  EXPECT_EQ(introspect(SignProof(*key, GoodProof(*key, "GET", url, cred, now, "p-4")))["active"], true);
}

}  // namespace
}  // namespace taskcred::test
