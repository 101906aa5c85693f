// DPoP-bound credentials minted by the REAL plugin, checked by the kit:
// offline by the library and taskcred-verify (--dpop/--method/--url), online
// through introspect (the engine checks the proof).
#include <chrono>
#include <functional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dpop/proof_maker.h"
#include "kit/kit_test_util.h"
#include "kit_mount.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

const std::string kUrl = "https://files.example/db1/4711";

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class KitDpopIntegrationTest : public PluginSuite {
 protected:
  void SetUp() override {
    m_ = NewMount({});
    ASSERT_NE(m_, nullptr);
    m_->Ok("update", "roles/backup", BackupRoleFor({{"binding", "dpop"}}));
    cred_ = m_->Issue("backup", {{"snapshot_id", "4711"}, {"dpop_jkt", Jkt(holder_)}}).data["credential"];
    ASSERT_FALSE(cred_.empty());
  }
  std::string Proof(const std::string& jti, const std::string& method = "PUT") {
    return SignProof(holder_, GoodProof(holder_, method, kUrl, cred_, Now(), jti));
  }

  crypto::SigningKey holder_ = *crypto::SigningKey::Generate(crypto::Algorithm::kES256);
  std::unique_ptr<KitMount> m_;
  std::string cred_;
};

TEST_F(KitDpopIntegrationTest, TheLibraryOfflineAndOnline) {
  auto offline = MakeVerifier(OfflineOptions(*m_));
  ASSERT_NE(offline, nullptr);
  EXPECT_EQ(offline->Check(cred_, "s3://backups/db1/4711", "write").reason, "dpop_required");
  const std::string proof = Proof("o-1");
  kit::Verdict ok = offline->Check(cred_, "s3://backups/db1/4711", "write", {proof, "PUT", kUrl});
  EXPECT_TRUE(ok.ok) << ok.reason << ": " << ok.detail;
  EXPECT_EQ(offline->Check(cred_, "s3://backups/db1/4711", "write", {proof, "PUT", kUrl}).reason, "dpop_invalid");

  auto online = MakeVerifier(OnlineOptions(*m_));
  ASSERT_NE(online, nullptr);
  EXPECT_EQ(online->Check(cred_).reason, "inactive") << "the engine wants a proof";
  EXPECT_TRUE(online->Check(cred_, {}, {}, {Proof("n-1"), "PUT", kUrl}).ok);
  EXPECT_EQ(online->Check(cred_, {}, {}, {Proof("n-2", "GET"), "PUT", kUrl}).reason, "inactive");
}

TEST_F(KitDpopIntegrationTest, TheCli) {
  const std::vector<std::string> base = {"--jwks", m_->front->jwks_url(), "--issuer", kIssuer,
                                         "--audience", kAudience, "--json"};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(cred_);
    RunResult r = RunTool(VerifyPath(), args);
    json j = json::parse(r.out, nullptr, false);
    return std::make_pair(r.exit_code, j.is_object() ? j.value("reason", "") : r.out + r.err);
  };
  EXPECT_EQ(run({}), std::make_pair(1, std::string("dpop_required")));
  const std::string proof = Proof("c-1");
  EXPECT_EQ(run({"--dpop", proof, "--method", "PUT", "--url", kUrl + "?part=2"}), std::make_pair(0, std::string("ok")));
  EXPECT_EQ(run({"--dpop", proof, "--method", "PUT", "--url", kUrl}), std::make_pair(0, std::string("ok")))
      << "each taskcred-verify run has its own replay cache";
  EXPECT_EQ(run({"--dpop", Proof("c-2"), "--method", "PUT", "--url", kUrl + "/other"}),
            std::make_pair(1, std::string("dpop_invalid")));
  // Every other bent proof (a replay needs one process: see the library test).
  auto thief = *crypto::SigningKey::Generate(crypto::Algorithm::kES256);
  auto bent = [&](const std::string& jti, const std::function<void(ProofParts&)>& bend,
                  const crypto::SigningKey* key = nullptr) {
    const crypto::SigningKey& k = key != nullptr ? *key : holder_;
    ProofParts p = GoodProof(k, "PUT", kUrl, cred_, Now(), jti);
    if (bend) bend(p);
    return SignProof(k, p);
  };
  const std::vector<std::pair<const char*, std::string>> refused = {
      {"thief", bent("c-3", nullptr, &thief)},
      {"method", bent("c-4", [](ProofParts& p) { p.claims["htm"] = "GET"; })},
      {"stale", bent("c-5", [](ProofParts& p) { p.claims["iat"] = Now() - 300; })},
      {"future", bent("c-6", [](ProofParts& p) { p.claims["iat"] = Now() + 300; })},
      {"no ath", bent("c-7", [](ProofParts& p) { p.claims.erase("ath"); })},
      {"another credential", bent("c-8", [](ProofParts& p) {
         p.claims["ath"] = crypto::Base64UrlEncode(crypto::Sha256("another credential"));
       })},
      {"none", bent("c-9", [](ProofParts& p) { p.header["alg"] = "none"; })},
      {"HS256", bent("c-10", [](ProofParts& p) { p.header["alg"] = "HS256"; })},
  };
  for (const auto& [name, p] : refused) {
    SCOPED_TRACE(name);
    EXPECT_EQ(run({"--dpop", p, "--method", "PUT", "--url", kUrl}), std::make_pair(1, std::string("dpop_invalid")));
  }
  RunResult partial = RunTool(VerifyPath(), {"--jwks", m_->front->jwks_url(), "--issuer", kIssuer, "--audience",
                                             kAudience, "--dpop", proof, cred_});
  EXPECT_EQ(partial.exit_code, 2) << partial.out << partial.err;
}

}  // namespace
}  // namespace taskcred::test
