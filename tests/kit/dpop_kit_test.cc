// The kit's DPoP checks (docs/kit.md, "DPoP"): a credential bound to a key
// (cnf.jkt) verified offline needs a proof of that key for the request,
// once; keys, credentials and proofs minted in-test.
#include <gtest/gtest.h>

#include "dpop/proof_maker.h"
#include "kit/kit_test_util.h"
#include "kit/verifier.h"

namespace taskcred::kit {
namespace {

using nlohmann::json;
using test::GoodProof;
using test::ProofParts;
using test::SignProof;

constexpr int64_t kNow = 1'800'000'000;
const char kIssuer[] = "https://vault.example.com/v1/taskcred";
const char kAudience[] = "files";
const std::string kUrl = "https://files.example/data/ok.txt";

crypto::SigningKey NewKey(crypto::Algorithm alg = crypto::Algorithm::kES256) {
  auto k = crypto::SigningKey::Generate(alg);
  EXPECT_TRUE(k.ok());
  return *k;
}

class KitDpopTest : public ::testing::Test {
 protected:
  std::unique_ptr<Verifier> Make() {
    VerifierOptions o;
    o.issuer = kIssuer;
    o.audience = kAudience;
    o.jwks = test::Jwks({{&mount_key_, "k1"}});
    o.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow)); };
    auto v = Verifier::Create(std::move(o));
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return std::move(v).value();
  }
  std::string Credential(const json& cnf) {
    json c = {{"iss", kIssuer},
              {"aud", kAudience},
              {"iat", kNow},
              {"exp", kNow + 600},
              {"jti", "11111111-2222-8333-8444-555555555555"},
              {"grants", json::array({{{"resource", "file://data/*"}, {"actions", {"read"}}}})}};
    if (!cnf.is_null()) c["cnf"] = cnf;
    return test::Mint(mount_key_, "k1", c);
  }
  std::string Proof(const crypto::SigningKey& key, const std::string& cred, const std::string& jti,
                    const std::string& method = "GET") {
    return SignProof(key, GoodProof(key, method, kUrl, cred, kNow, jti));
  }

  crypto::SigningKey mount_key_ = NewKey();
  crypto::SigningKey holder_ = NewKey(crypto::Algorithm::kEdDSA);
};

TEST_F(KitDpopTest, ABoundCredentialNeedsAFreshProofOfItsKey) {
  auto v = Make();
  const std::string cred = Credential({{"jkt", test::Jkt(holder_)}});
  EXPECT_EQ(v->Check(cred, "file://data/ok.txt", "read").reason, "dpop_required");
  const std::string proof = Proof(holder_, cred, "p-1");
  Verdict ok = v->Check(cred, "file://data/ok.txt", "read", {proof, "GET", kUrl + "?x=1"});
  EXPECT_TRUE(ok.ok) << ok.reason << ": " << ok.detail;
  EXPECT_EQ(v->Check(cred, "file://data/ok.txt", "read", {proof, "GET", kUrl}).reason, "dpop_invalid")
      << "replayed";
  crypto::SigningKey thief = NewKey(crypto::Algorithm::kEdDSA);
  EXPECT_EQ(v->VerifyOffline(cred, {Proof(thief, cred, "p-2"), "GET", kUrl}).reason, "dpop_invalid");
  EXPECT_EQ(v->VerifyOffline(cred, {Proof(holder_, cred, "p-3", "POST"), "GET", kUrl}).reason, "dpop_invalid");
  ProofParts for_other = GoodProof(holder_, "GET", kUrl, "another credential", kNow, "p-4");
  EXPECT_EQ(v->VerifyOffline(cred, {SignProof(holder_, for_other), "GET", kUrl}).reason, "dpop_invalid");
  Verdict detail = v->VerifyOffline(cred, {"not-a-proof", "GET", kUrl});
  EXPECT_EQ(detail.reason, "dpop_invalid");
  EXPECT_EQ(detail.detail.find("not-a-proof"), std::string::npos) << "the proof is not echoed";
}

TEST_F(KitDpopTest, UnboundCredentialsIgnoreProofsAndABadCnfIsMalformed) {
  auto v = Make();
  EXPECT_TRUE(v->VerifyOffline(Credential(nullptr), {"garbage", "GET", kUrl}).ok);
  EXPECT_TRUE(v->VerifyOffline(Credential(nullptr)).ok);
  EXPECT_EQ(v->VerifyOffline(Credential({{"jkt", "short"}})).reason, "malformed");
  EXPECT_EQ(v->VerifyOffline(Credential("x")).reason, "malformed");
}

TEST_F(KitDpopTest, TheIatWindowIsConfigurable) {
  VerifierOptions o;
  o.issuer = kIssuer;
  o.audience = kAudience;
  o.jwks = test::Jwks({{&mount_key_, "k1"}});
  o.dpop_iat_window = std::chrono::seconds(0);
  EXPECT_FALSE(Verifier::Create(o).ok());
  o.dpop_iat_window = std::chrono::seconds(5);
  o.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow + 10)); };
  auto v = Verifier::Create(o);
  ASSERT_TRUE(v.ok());
  const std::string cred = Credential({{"jkt", test::Jkt(holder_)}});
  EXPECT_EQ((*v)->VerifyOffline(cred, {Proof(holder_, cred, "w-1"), "GET", kUrl}).reason, "dpop_invalid")
      << "iat 10 s old, window 5 s";
}

}  // namespace
}  // namespace taskcred::kit
