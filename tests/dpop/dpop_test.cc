// DPoP proof checks (RFC 9449) and the jti replay cache: every rule refuses
// the proof that breaks it, and a correct proof of each algorithm passes.
#include "dpop/dpop.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "dpop/proof_maker.h"

namespace taskcred::dpop {
namespace {

using crypto::Algorithm;
using crypto::SigningKey;
using nlohmann::json;
using test::GoodProof;
using test::ProofParts;
using test::SignProof;

constexpr int64_t kNow = 1'800'000'000;
const std::string kUrl = "https://files.example/data/ok.txt";
const std::string kCredential = "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln";

SigningKey NewKey(Algorithm alg) {
  auto k = SigningKey::Generate(alg);
  EXPECT_TRUE(k.ok());
  return *k;
}

Expectation Expect(const std::string& jkt, const std::string& url = kUrl) {
  return {.method = "GET", .url = url, .access_token = kCredential, .jkt = jkt, .now = kNow};
}

class DpopPerAlg : public ::testing::TestWithParam<Algorithm> {};

TEST_P(DpopPerAlg, ACorrectProofPasses) {
  SigningKey key = NewKey(GetParam());
  const std::string jkt = test::Jkt(key);
  EXPECT_TRUE(IsValidThumbprint(jkt));
  auto proof = CheckProof(SignProof(key, GoodProof(key, "GET", kUrl, kCredential, kNow, "j-1")), Expect(jkt));
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  EXPECT_EQ(proof->jti, "j-1");
  EXPECT_EQ(proof->iat, kNow);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, DpopPerAlg,
                         ::testing::Values(Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kRS256));

TEST(DpopTest, EveryRuleRefusesTheProofThatBreaksIt) {
  SigningKey key = NewKey(Algorithm::kES256);
  SigningKey other = NewKey(Algorithm::kES256);
  const std::string jkt = test::Jkt(key);
  struct Case {
    const char* name;
    std::function<std::string()> proof;
    std::string why;
  };
  auto bent = [&](const std::function<void(ProofParts&)>& bend, const SigningKey* signer = nullptr) {
    return [&, bend, signer] {
      ProofParts p = GoodProof(key, "GET", kUrl, kCredential, kNow, "j-1");
      bend(p);
      return SignProof(signer ? *signer : key, p);
    };
  };
  const std::vector<Case> cases = {
      {"missing", [] { return std::string(); }, "missing"},
      {"not a JWT", [] { return std::string("a.b"); }, "not a well-formed JWT"},
      {"typ JWT", bent([](ProofParts& p) { p.header["typ"] = "JWT"; }), "typ"},
      {"alg none", bent([](ProofParts& p) { p.header["alg"] = "none"; }), "alg"},
      {"alg HS256", bent([](ProofParts& p) { p.header["alg"] = "HS256"; }), "alg"},
      {"no jwk", bent([](ProofParts& p) { p.header.erase("jwk"); }), "jwk"},
      {"private jwk", bent([](ProofParts& p) { p.header["jwk"]["d"] = "AAAA"; }), "private member"},
      {"alg of another key type", bent([](ProofParts& p) { p.header["alg"] = "EdDSA"; }), "alg does not match"},
      {"signed by another key", bent([](ProofParts&) {}, &other), "signature"},
      {"another holder's key", [&] { return SignProof(other, GoodProof(other, "GET", kUrl, kCredential, kNow, "j")); },
       "not the one the credential is bound to"},
      {"wrong htm", bent([](ProofParts& p) { p.claims["htm"] = "POST"; }), "htm"},
      {"lowercase htm", bent([](ProofParts& p) { p.claims["htm"] = "get"; }), "htm"},
      {"wrong htu", bent([](ProofParts& p) { p.claims["htu"] = "https://files.example/data/other.txt"; }), "htu"},
      {"htu of another host", bent([](ProofParts& p) { p.claims["htu"] = "https://evil.example/data/ok.txt"; }),
       "htu"},
      {"htu not a URL", bent([](ProofParts& p) { p.claims["htu"] = "/data/ok.txt"; }), "htu"},
      {"stale iat", bent([](ProofParts& p) { p.claims["iat"] = kNow - 61; }), "iat"},
      {"future iat", bent([](ProofParts& p) { p.claims["iat"] = kNow + 61; }), "iat"},
      {"iat a string", bent([](ProofParts& p) { p.claims["iat"] = std::to_string(kNow); }), "iat"},
      {"no jti", bent([](ProofParts& p) { p.claims.erase("jti"); }), "jti"},
      {"jti too long", bent([](ProofParts& p) { p.claims["jti"] = std::string(257, 'j'); }), "jti"},
      {"no ath", bent([](ProofParts& p) { p.claims.erase("ath"); }), "ath"},
      {"ath of another credential",
       bent([](ProofParts& p) { p.claims["ath"] = crypto::Base64UrlEncode(crypto::Sha256("other")); }), "ath"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = CheckProof(c.proof(), Expect(jkt));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), common::ErrorKind::kPermissionDenied);
    EXPECT_THAT(r.status().message(), ::testing::HasSubstr(c.why));
  }
}

TEST(DpopTest, HtuIsComparedWithoutQueryFragmentAndCase) {
  SigningKey key = NewKey(Algorithm::kEdDSA);
  ProofParts p = GoodProof(key, "GET", "HTTPS://Files.Example/data/ok.txt", kCredential, kNow, "j");
  EXPECT_TRUE(CheckProof(SignProof(key, p), Expect(test::Jkt(key), kUrl + "?version=2#top")).ok());
  EXPECT_TRUE(CheckProof(SignProof(key, p), Expect(test::Jkt(key), kUrl)).ok());
  // The path keeps its case.
  EXPECT_FALSE(CheckProof(SignProof(key, p), Expect(test::Jkt(key), "https://files.example/DATA/ok.txt")).ok());
  EXPECT_EQ(NormalizeHtu("https://h.example"), "https://h.example/");
  EXPECT_EQ(NormalizeHtu("ftp://h.example/x"), "");
  EXPECT_EQ(NormalizeHtu("https://user@h.example/x"), "");
}

TEST(DpopTest, ThumbprintShape) {
  EXPECT_FALSE(IsValidThumbprint(""));
  EXPECT_FALSE(IsValidThumbprint(std::string(43, '+')));
  EXPECT_FALSE(IsValidThumbprint(std::string(44, 'A')));
  EXPECT_TRUE(IsValidThumbprint(std::string(42, 'A') + "A"));
}

TEST(ReplayCacheTest, AJtiIsAcceptedOnceUntilItExpires) {
  ReplayCache cache(3);
  EXPECT_TRUE(cache.Accept("k1", "a", kNow + 120, kNow));
  EXPECT_FALSE(cache.Accept("k1", "a", kNow + 120, kNow + 1)) << "replay";
  EXPECT_TRUE(cache.Accept("k2", "a", kNow + 120, kNow + 1)) << "another key's jti";
  EXPECT_TRUE(cache.Accept("k1", "b", kNow + 10, kNow + 1));
  EXPECT_FALSE(cache.Accept("k1", "c", kNow + 120, kNow + 2)) << "full of live entries: fail closed";
  EXPECT_TRUE(cache.Accept("k1", "c", kNow + 130, kNow + 10)) << "b expired and was dropped";
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.Accept("k1", "a", kNow + 300, kNow + 120)) << "past its window, a jti is forgotten";
}

}  // namespace
}  // namespace taskcred::dpop
