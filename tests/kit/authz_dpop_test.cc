// taskcred-authz with DPoP-bound credentials (docs/kit.md, "Sidecar"):
// Authorization: DPoP <credential> plus the DPoP header, checked against the
// request nginx saw (X-Original-Method on --external-url + X-Original-URI).
#include <gtest/gtest.h>

#include <unistd.h>

#include "dpop/proof_maker.h"
#include "kit/http_client.h"
#include "kit/kit_test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const char kIssuer[] = "https://vault.example.com/v1/taskcred";
const char kExternal[] = "https://files.example";

class AuthzDpopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sidecar_ = Sidecar::Start({"--jwks", jwks_file_, "--issuer", kIssuer, "--audience", "files", "--external-url",
                               std::string(kExternal) + "/", "--threads", "2"});
    ASSERT_NE(sidecar_, nullptr);
  }
  std::string Credential() {
    json c = {{"iss", kIssuer},
              {"aud", "files"},
              {"iat", UnixNow()},
              {"exp", UnixNow() + 600},
              {"jti", "task-dpop"},
              {"grants", json::array({{{"resource", "http://static.test/public/*"}, {"actions", {"read"}}}})},
              {"cnf", {{"jkt", Jkt(holder_)}}}};
    return Mint(mount_key_, "k1", c);
  }
  std::string Proof(const crypto::SigningKey& key, const std::string& cred, const std::string& jti,
                    const std::string& method = "GET") {
    return SignProof(key, GoodProof(key, method, std::string(kExternal) + "/public/a.txt", cred, UnixNow(), jti));
  }
  // One /check; returns {status, reason}.
  std::pair<int, std::string> Check(const std::string& authorization, const std::string& proof,
                                    const std::string& method = "GET") {
    kit::HttpHeaders h = {{"Authorization", authorization},
                          {"X-Resource", "http://static.test/public/a.txt"},
                          {"X-Action", "read"},
                          {"X-Original-Method", method},
                          {"X-Original-URI", "/public/a.txt?download=1"}};
    if (!proof.empty()) h.emplace_back("DPoP", proof);
    kit::HttpOptions o;
    o.timeout = 5s;
    auto r = kit::HttpCall("GET", sidecar_->url() + "/check", h, "", o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {0, ""};
    json body = json::parse(r->body, nullptr, false);
    return {r->status, body.is_object() ? body.value("reason", "") : r->body};
  }

  crypto::SigningKey mount_key_ = *crypto::SigningKey::Generate(crypto::Algorithm::kEdDSA);
  crypto::SigningKey holder_ = *crypto::SigningKey::Generate(crypto::Algorithm::kES256);
  TempDir dir_;
  std::string jwks_file_ = dir_.Write("jwks.json", Jwks({{&mount_key_, "k1"}}).dump());
  std::unique_ptr<Sidecar> sidecar_;
};

TEST_F(AuthzDpopTest, ABoundCredentialPassesOnlyWithAFreshProofForThisRequest) {
  const std::string cred = Credential();
  const std::string proof = Proof(holder_, cred, "s-1");
  EXPECT_EQ(Check("DPoP " + cred, proof), std::make_pair(200, std::string("ok")));
  EXPECT_EQ(Check("DPoP " + cred, proof), std::make_pair(401, std::string("dpop_invalid"))) << "replayed";
  EXPECT_EQ(Check("Bearer " + cred, ""), std::make_pair(401, std::string("dpop_required")));
  EXPECT_EQ(Check("DPoP " + cred, ""), std::make_pair(401, std::string("dpop_required")));
  EXPECT_EQ(Check("DPoP " + cred, Proof(holder_, cred, "s-2", "POST")), std::make_pair(401, std::string("dpop_invalid")));
  auto thief = *crypto::SigningKey::Generate(crypto::Algorithm::kES256);
  EXPECT_EQ(Check("DPoP " + cred, Proof(thief, cred, "s-3")), std::make_pair(401, std::string("dpop_invalid")));
  EXPECT_EQ(Check("DPoP " + cred, Proof(holder_, cred, "s-4")), std::make_pair(200, std::string("ok")));

  // The challenge names the scheme and the proof error (RFC 9449 section 7.1).
  int fd = ConnectLoopback(sidecar_->port());
  ASSERT_GE(fd, 0);
  WriteAll(fd, "GET /check HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: DPoP " + cred +
                   "\r\nDPoP: " + proof + "\r\nX-Resource: http://static.test/public/a.txt\r\nX-Action: read\r\n"
                   "X-Original-Method: GET\r\nX-Original-URI: /public/a.txt\r\n\r\n");
  auto [text, eof] = ReadAll(fd, 5s);
  ::close(fd);
  EXPECT_NE(text.find("WWW-Authenticate: DPoP algs=\"EdDSA ES256 RS256\", error=\"invalid_dpop_proof\""),
            std::string::npos)
      << text;
  // Two DPoP headers are two answers to one question.
  fd = ConnectLoopback(sidecar_->port());
  ASSERT_GE(fd, 0);
  WriteAll(fd, "GET /check HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: DPoP " + cred +
                   "\r\nDPoP: a\r\nDPoP: b\r\nX-Resource: http://static.test/public/a.txt\r\nX-Action: read\r\n\r\n");
  auto [dup, dup_eof] = ReadAll(fd, 5s);
  ::close(fd);
  EXPECT_EQ(dup.rfind("HTTP/1.1 400", 0), 0u) << dup;
}

TEST_F(AuthzDpopTest, ExternalUrlMustBeHttp) {
  RunResult r = RunTool(AuthzPath(), {"--listen", "127.0.0.1:0", "--jwks", jwks_file_, "--issuer", kIssuer,
                                      "--audience", "files", "--external-url", "files.example"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--external-url"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace taskcred::test
