// Sender-constrained credentials through the engine (design.md, "DPoP"):
// role binding=dpop, dpop_jkt at issuance, cnf.jkt in the credential and the
// answers, and introspect requiring a proof of that key for the request.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/jwt.h"
#include "dpop/proof_maker.h"
#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

const json kInactive = {{"active", false}};
const std::string kUrl = "https://files.example/data/ok.txt";

crypto::SigningKey NewKey(crypto::Algorithm alg = crypto::Algorithm::kES256) {
  auto k = crypto::SigningKey::Generate(alg);
  EXPECT_TRUE(k.ok());
  return *k;
}

class DpopBindingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    json role = {{"task", "job"}, {"grants", {"read file://data/*"}}, {"ttl", 600}, {"binding", "dpop"}};
    ASSERT_TRUE(h_.Write("roles/bound", role).ok());
    role["credential_type"] = "opaque";
    ASSERT_TRUE(h_.Write("roles/bound-opaque", role).ok());
    role["credential_type"] = "jwt";
    role["max_uses"] = 1;
    ASSERT_TRUE(h_.Write("roles/bound-once", role).ok());
    ASSERT_TRUE(h_.Write("roles/plain", {{"task", "job"}, {"grants", {"read file://data/*"}}, {"ttl", 600}}).ok());
  }
  // A proof by `key` for GET kUrl with `credential`, iat = now.
  std::string Proof(const crypto::SigningKey& key, const std::string& credential, const std::string& jti,
                    const std::function<void(ProofParts&)>& bend = nullptr) {
    ProofParts p = GoodProof(key, "GET", kUrl, credential, h_.now(), jti);
    if (bend) bend(p);
    return SignProof(key, p);
  }
  json Introspect(const std::string& credential, const std::string& proof, json extra = json::object()) {
    extra["dpop_proof"] = proof;
    extra["method"] = "GET";
    extra["url"] = kUrl + "?download=1";
    return h_.Introspect(credential, extra);
  }

  EngineHarness h_;
  crypto::SigningKey key_ = NewKey();
  std::string jkt_ = Jkt(key_);
};

TEST_F(DpopBindingTest, ABoundRoleNeedsAThumbprintAndTheCredentialCarriesIt) {
  ExpectInvalid(h_.Read("creds/bound"), "dpop_jkt");
  ExpectInvalid(h_.Write("creds/bound", {{"dpop_jkt", "not-a-thumbprint"}}), "dpop_jkt");
  ExpectInvalid(h_.Write("creds/bound", {{"dpop_jkt", 42}}), "dpop_jkt");
  json d = Issue(h_, "creds/bound", {{"dpop_jkt", jkt_}}).data;
  EXPECT_EQ(d["cnf"], (json{{"jkt", jkt_}}));
  auto jwt = crypto::DecodeJwt(d["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["cnf"], (json{{"jkt", jkt_}}));
  EXPECT_EQ(DataOf(h_.Read("tasks/" + d["task_id"].get<std::string>()))["cnf"], (json{{"jkt", jkt_}}));
  // Any role accepts a binding; a plain one without it issues unbound.
  EXPECT_EQ(Issue(h_, "creds/plain", {{"dpop_jkt", jkt_}}).data["cnf"], (json{{"jkt", jkt_}}));
  EXPECT_FALSE(Issue(h_, "creds/plain").data.contains("cnf"));
  // The dry run says the same.
  json preview = DataOf(h_.Write("roles/bound/preview", {{"dpop_jkt", jkt_}}));
  EXPECT_EQ(preview["claims"]["cnf"], (json{{"jkt", jkt_}}));
  ExpectInvalid(h_.Write("roles/bound/preview", json::object()), "dpop_jkt");
}

TEST_F(DpopBindingTest, RoleRules) {
  ExpectInvalid(h_.Write("roles/x", {{"task", "t"}, {"grants", {"read a://b"}}, {"binding", "mtls"}}), "binding");
  ExpectInvalid(h_.Write("roles/x", {{"task", "t"}, {"grants", {"read a://b/{{dpop_jkt}}"}},
                                     {"parameters", {{"dpop_jkt", "^.+$"}}}}),
                "dpop_jkt");
  EXPECT_EQ(DataOf(h_.Read("roles/bound"))["binding"], "dpop");
  EXPECT_EQ(DataOf(h_.Read("roles/plain"))["binding"], "none");
}

TEST_F(DpopBindingTest, IntrospectNeedsAFreshProofOfTheKeyForThisRequest) {
  const std::string cred = Issue(h_, "creds/bound", {{"dpop_jkt", jkt_}}).data["credential"];
  EXPECT_EQ(h_.Introspect(cred), kInactive) << "no proof";
  json active = Introspect(cred, Proof(key_, cred, "j-1"));
  EXPECT_EQ(active["active"], true);
  EXPECT_EQ(active["cnf"], (json{{"jkt", jkt_}}));
  EXPECT_EQ(Introspect(cred, Proof(key_, cred, "j-1")), kInactive) << "replayed jti";
  EXPECT_EQ(Introspect(cred, Proof(key_, cred, "j-2"))["active"], true);

  crypto::SigningKey thief = NewKey();
  const std::string other = Issue(h_, "creds/bound", {{"dpop_jkt", jkt_}}).data["credential"];
  struct Case {
    const char* name;
    std::string proof;
  };
  const std::vector<Case> refused = {
      {"the thief's key", SignProof(thief, GoodProof(thief, "GET", kUrl, cred, h_.now(), "t-1"))},
      {"another method", Proof(key_, cred, "t-2", [](ProofParts& p) { p.claims["htm"] = "POST"; })},
      {"another url", Proof(key_, cred, "t-3", [](ProofParts& p) { p.claims["htu"] = kUrl + "x"; })},
      {"stale", Proof(key_, cred, "t-4", [&](ProofParts& p) { p.claims["iat"] = h_.now() - 120; })},
      {"future", Proof(key_, cred, "t-5", [&](ProofParts& p) { p.claims["iat"] = h_.now() + 120; })},
      {"no ath", Proof(key_, cred, "t-6", [](ProofParts& p) { p.claims.erase("ath"); })},
      {"alg none", Proof(key_, cred, "t-7", [](ProofParts& p) { p.header["alg"] = "none"; })},
      {"HS256", Proof(key_, cred, "t-8", [](ProofParts& p) { p.header["alg"] = "HS256"; })},
      {"a proof for another credential", Proof(key_, other, "t-9")},
  };
  for (const Case& c : refused) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Introspect(cred, c.proof), kInactive);
  }
  ExpectInvalid(h_.Write("introspect", {{"token", cred}, {"dpop_proof", Proof(key_, cred, "j-3")}}), "method");
}

TEST_F(DpopBindingTest, ConsumeAndOpaqueCredentialsAreBoundToo) {
  const std::string once = Issue(h_, "creds/bound-once", {{"dpop_jkt", jkt_}}).data["credential"];
  EXPECT_EQ(h_.Introspect(once, {{"consume", true}}), kInactive) << "no proof spends nothing";
  json spent = Introspect(once, Proof(key_, once, "c-1"), {{"consume", true}});
  EXPECT_EQ(spent["active"], true);
  EXPECT_EQ(spent["uses_remaining"], 0);
  EXPECT_EQ(Introspect(once, Proof(key_, once, "c-2")), kInactive) << "used up";

  const std::string opaque = Issue(h_, "creds/bound-opaque", {{"dpop_jkt", jkt_}}).data["credential"];
  EXPECT_EQ(h_.Introspect(opaque), kInactive);
  EXPECT_EQ(Introspect(opaque, Proof(key_, opaque, "o-1"))["active"], true);
}

TEST_F(DpopBindingTest, AnUnboundCredentialIgnoresAProof) {
  const std::string cred = Issue(h_, "creds/plain").data["credential"];
  EXPECT_EQ(h_.Introspect(cred)["active"], true);
  json a = Introspect(cred, "garbage");
  EXPECT_EQ(a["active"], true);
  EXPECT_FALSE(a.contains("cnf"));
}

}  // namespace
}  // namespace taskcred::test
