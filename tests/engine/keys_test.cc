#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "crypto/encoding.h"
#include "crypto/jwt.h"
#include "crypto/signing_key.h"
#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using ::testing::UnorderedElementsAre;

std::vector<std::string> Kids(const json& jwks) {
  std::vector<std::string> kids;
  for (const auto& k : jwks["keys"]) kids.push_back(k["kid"]);
  return kids;
}

std::string SignedBy(EngineHarness& h) {
  json d = Issue(h, "creds/r").data;
  auto jwt = crypto::DecodeJwt(d["credential"].get<std::string>());
  EXPECT_TRUE(jwt.ok());
  return jwt.ok() ? jwt->header["kid"].get<std::string>() : "";
}

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.Write("roles/r", {{"task", "t"}, {"grants", {"read kv://a/b"}}, {"max_ttl", 3600}}).ok());
  }
  EngineHarness h_;
};

TEST_F(KeysTest, FirstJwksHasActiveAndNextKeysWithThumbprintKids) {
  json jwks = h_.Jwks();
  ASSERT_EQ(jwks["keys"].size(), 2u);
  for (const auto& jwk : jwks["keys"]) {
    EXPECT_EQ(jwk["alg"], "EdDSA");
    EXPECT_EQ(jwk["use"], "sig");
    EXPECT_FALSE(jwk.contains("d"));
    auto pub = crypto::PublicKey::FromJwk(jwk);
    ASSERT_TRUE(pub.ok());
    EXPECT_EQ(jwk["kid"], pub->Thumbprint());
  }
  EXPECT_EQ(h_.Jwks(), jwks);  // stable: kids do not change between reads
}

TEST_F(KeysTest, NextKeyIsPublishedBeforeItSigns) {
  json before = h_.Jwks();
  std::string active = SignedBy(h_);
  EXPECT_EQ(before["keys"][0]["kid"], active);  // the active key is listed first
  json rotated = DataOf(h_.Write("rotate"));
  std::string next = rotated["active_kid"];
  EXPECT_NE(next, active);
  EXPECT_THAT(Kids(before), ::testing::Contains(next));  // it was published one rotation earlier
  EXPECT_EQ(SignedBy(h_), next);
  EXPECT_THAT(Kids(h_.Jwks()), UnorderedElementsAre(active, next, rotated["next_kid"].get<std::string>()));
}

TEST_F(KeysTest, RotateWithoutRingCreatesOne) {
  json rotated = DataOf(h_.Write("rotate"));
  EXPECT_EQ(SignedBy(h_), rotated["active_kid"]);
  EXPECT_EQ(h_.Jwks()["keys"].size(), 2u);
}

TEST_F(KeysTest, RetiredKeyStaysForVerificationTtlThenIsPruned) {
  ASSERT_TRUE(h_.Write("config", {{"verification_ttl", 7200}}).ok());
  std::string token = Issue(h_, "creds/r").data["credential"];
  auto decoded = crypto::DecodeJwt(token);
  ASSERT_TRUE(decoded.ok());
  std::string old_kid = decoded->header["kid"];
  ASSERT_TRUE(h_.Write("rotate").ok());
  h_.Advance(7199);
  ASSERT_TRUE(h_.Periodic().ok());
  json jwks = h_.Jwks();
  EXPECT_THAT(Kids(jwks), ::testing::Contains(old_kid));
  EXPECT_TRUE(crypto::VerifyJwtSignature(*decoded, jwks).ok());
  h_.Advance(1);
  ASSERT_TRUE(h_.Periodic().ok());
  jwks = h_.Jwks();
  EXPECT_THAT(Kids(jwks), ::testing::Not(::testing::Contains(old_kid)));
  EXPECT_FALSE(crypto::VerifyJwtSignature(*decoded, jwks).ok());
  auto ring = h_.storage().Get("keys/ring");
  ASSERT_TRUE(ring.ok() && ring->has_value());
  EXPECT_EQ((*ring)->value.find(old_kid), std::string::npos);
}

TEST_F(KeysTest, LoweringVerificationTtlKeepsKeysOfLiveJwts) {
  ASSERT_TRUE(h_.Write("config", {{"verification_ttl", "48h"}}).ok());
  ASSERT_TRUE(h_.Write("roles/mount-bound", {{"task", "t"}, {"grants", {"read kv://a/b"}}}).ok());
  h_.system_view().SetTtls(std::chrono::hours(100), std::chrono::hours(100));
  json d = Issue(h_, "creds/mount-bound").data;
  EXPECT_EQ(d["expires_at"], engine::Rfc3339(h_.now() + 48 * 3600));  // capped by verification_ttl
  auto decoded = crypto::DecodeJwt(d["credential"].get<std::string>());
  ASSERT_TRUE(decoded.ok());
  ASSERT_TRUE(h_.Write("config", {{"verification_ttl", "24h"}}).ok());
  ASSERT_TRUE(h_.Write("rotate").ok());
  h_.Advance(47 * 3600);
  ASSERT_TRUE(h_.Periodic().ok());
  EXPECT_TRUE(crypto::VerifyJwtSignature(*decoded, h_.Jwks()).ok());
  EXPECT_EQ(h_.Introspect(d["credential"])["active"], true);
  h_.Advance(3600);
  ASSERT_TRUE(h_.Periodic().ok());
  EXPECT_FALSE(crypto::VerifyJwtSignature(*decoded, h_.Jwks()).ok());
}

TEST_F(KeysTest, PeriodicRotatesWhenRotationPeriodHasPassed) {
  ASSERT_TRUE(h_.Write("config", {{"rotation_period", 3600}}).ok());
  std::string first = SignedBy(h_);
  h_.Advance(3599);
  ASSERT_TRUE(h_.Periodic().ok());
  EXPECT_EQ(SignedBy(h_), first);
  h_.Advance(1);
  ASSERT_TRUE(h_.Periodic().ok());
  std::string second = SignedBy(h_);
  EXPECT_NE(second, first);
  ASSERT_TRUE(h_.Periodic().ok());  // the clock restarts at activation
  EXPECT_EQ(SignedBy(h_), second);
}

TEST_F(KeysTest, ZeroRotationPeriodNeverRotates) {
  ASSERT_TRUE(h_.Write("config", {{"rotation_period", 0}}).ok());
  std::string first = SignedBy(h_);
  h_.Advance(400 * 24 * 3600);
  ASSERT_TRUE(h_.Periodic().ok());
  EXPECT_EQ(SignedBy(h_), first);
}

TEST_F(KeysTest, AlgorithmChangeReplacesTheNextKeyAndSignsAfterRotation) {
  std::string active = SignedBy(h_);
  ASSERT_TRUE(h_.Write("config", {{"signing_algorithm", "ES256"}}).ok());
  json jwks = h_.Jwks();
  std::set<std::string> algs;
  for (const auto& k : jwks["keys"]) algs.insert(k["alg"]);
  EXPECT_EQ(algs, (std::set<std::string>{"EdDSA", "ES256"}));
  EXPECT_EQ(SignedBy(h_), active);  // still the EdDSA key until rotation
  ASSERT_TRUE(h_.Write("rotate").ok());
  json d = Issue(h_, "creds/r").data;
  auto jwt = crypto::DecodeAndVerifyJwt(d["credential"].get<std::string>(), h_.Jwks());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->header["alg"], "ES256");
}

TEST_F(KeysTest, JwksAndDiscoveryAreRawJsonWithCacheControl) {
  auto r = h_.Read("jwks");
  ASSERT_TRUE(r.ok() && r->has_value());
  const json& data = (*r)->data;
  EXPECT_EQ(data["http_status_code"], 200);
  EXPECT_EQ(data["http_content_type"], "application/json");
  EXPECT_EQ(data["http_raw_cache_control"], "max-age=3600");
  EXPECT_EQ(h_.Jwks(".well-known/jwks.json"), h_.Jwks("jwks"));
  auto body = crypto::Base64Decode(data["http_raw_body"].get<std::string>());
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->find("PRIVATE"), std::string::npos);

  json discovery = h_.Jwks(".well-known/openid-configuration");
  EXPECT_EQ(discovery["issuer"], "vault-taskcred");
  EXPECT_FALSE(discovery.contains("jwks_uri"));
  EXPECT_EQ(discovery["id_token_signing_alg_values_supported"], json({"EdDSA"}));
  ASSERT_TRUE(h_.Write("config", {{"issuer", "https://vault.example.com/v1/taskcred/"}}).ok());
  discovery = h_.Jwks(".well-known/openid-configuration");
  EXPECT_EQ(discovery["jwks_uri"], "https://vault.example.com/v1/taskcred/.well-known/jwks.json");
}

TEST_F(KeysTest, InitializeCreatesTheRingOnTheActiveNode) {
  EXPECT_FALSE(h_.storage().Get("keys/ring")->has_value());
  ASSERT_TRUE(h_.backend().Initialize(h_.storage(), h_.system_view()).ok());
  EXPECT_TRUE(h_.storage().Get("keys/ring")->has_value());
  json jwks = h_.Jwks();
  ASSERT_TRUE(h_.backend().Initialize(h_.storage(), h_.system_view()).ok());  // idempotent
  EXPECT_EQ(h_.Jwks(), jwks);
}

TEST_F(KeysTest, KeysAreSealWrappedAndJwksIsUnauthenticated) {
  logical::Paths special = h_.backend().SpecialPaths();
  EXPECT_THAT(special.seal_wrap_storage, ::testing::Contains("keys/"));
  EXPECT_THAT(special.unauthenticated,
              ::testing::IsSupersetOf({"jwks", ".well-known/jwks.json", ".well-known/openid-configuration"}));
  ASSERT_TRUE(h_.Read("jwks").ok());
  auto ring = h_.storage().Get("keys/ring");
  ASSERT_TRUE(ring.ok() && ring->has_value());
  EXPECT_TRUE((*ring)->seal_wrap);
}

}  // namespace
}  // namespace taskcred::test
