// The kit's Token Status List checks (docs/kit.md, "Status lists"): keys,
// credentials and lists minted in-test, a fake clock and an injected list
// fetcher; then one list over loopback HTTP and one from a file.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <mutex>

#include "crypto/jwt.h"
#include "crypto/random.h"
#include "crypto/signing_key.h"
#include "kit/kit_test_util.h"
#include "kit/verifier.h"
#include "statuslist/status_list.h"

namespace taskcred::kit {
namespace {

using nlohmann::json;
using test::Jwks;
using test::Mint;
using namespace std::chrono_literals;

constexpr int64_t kNow = 1'800'000'000;
const char kIssuer[] = "https://vault.example.com/v1/taskcred";
const char kAudience[] = "backup-service";
const std::string kListUri = std::string(kIssuer) + "/status/0007a3b2-0";

crypto::SigningKey NewKey() {
  auto k = crypto::SigningKey::Generate(crypto::Algorithm::kES256);
  EXPECT_TRUE(k.ok());
  return *k;
}

json CredentialClaims(uint32_t idx, const std::string& uri = kListUri) {
  return {{"iss", kIssuer},
          {"sub", "task:1"},
          {"aud", json::array({kAudience})},
          {"iat", kNow},
          {"exp", kNow + 900},
          {"jti", "11111111-2222-8333-8444-555555555555"},
          {"grants", json::array({{{"resource", "kv://db1/user"}, {"actions", {"read"}}}})},
          {"status", {{"status_list", {{"idx", idx}, {"uri", uri}}}}}};
}

class KitStatusListTest : public ::testing::Test {
 protected:
  // A list token as the engine serves it: revoked bits set, ttl 60.
  std::string ListToken(const std::set<uint32_t>& revoked, int64_t iat, const std::string& sub = kListUri,
                        const std::string& typ = "statuslist+jwt", const crypto::SigningKey* key = nullptr) {
    statuslist::BitList bits(65536);
    for (uint32_t i : revoked) bits.Set(i, true);
    json claims = {{"sub", sub}, {"iat", iat}, {"exp", iat + 420}, {"ttl", 60},
                   {"status_list", statuslist::Encode(bits)}};
    auto t = crypto::SignJwt(key ? *key : key_, "k1", claims, {.typ = typ, .max_bytes = 64 * 1024});
    EXPECT_TRUE(t.ok());
    return *t;
  }

  VerifierOptions Options() {
    VerifierOptions o;
    o.issuer = kIssuer;
    o.audience = kAudience;
    o.jwks = Jwks({{&key_, "k1"}});
    o.clock = [this] { return std::chrono::system_clock::time_point(std::chrono::seconds(now_.load())); };
    o.status_fetcher = [this](const std::string& uri) -> common::Result<std::string> {
      std::lock_guard lock(mu_);
      fetched_.push_back(uri);
      if (down_) return common::Status::Unavailable("status server down");
      return served_;
    };
    return o;
  }
  std::unique_ptr<Verifier> Make(VerifierOptions o) {
    auto v = Verifier::Create(std::move(o));
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(v).value() : nullptr;
  }
  void Serve(std::string token) {
    std::lock_guard lock(mu_);
    served_ = std::move(token);
  }
  void Down(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }
  std::string Reason(Verifier& v, const json& claims) { return v.VerifyOffline(Mint(key_, "k1", claims)).reason; }

  crypto::SigningKey key_ = NewKey();
  std::atomic<int64_t> now_{kNow};
  std::mutex mu_;
  std::string served_;
  bool down_ = false;
  std::vector<std::string> fetched_;
  std::string list_uri_;  // AListOverHttp
};

TEST_F(KitStatusListTest, ASetBitIsRevokedAClearOneIsAcceptedAndTheListIsCached) {
  Serve(ListToken({7, 4242}, kNow));
  auto v = Make(Options());
  EXPECT_EQ(Reason(*v, CredentialClaims(7)), "revoked");
  EXPECT_EQ(Reason(*v, CredentialClaims(4242)), "revoked");
  EXPECT_EQ(Reason(*v, CredentialClaims(8)), "ok");
  EXPECT_EQ(v->status_fetch_count(), 1) << "one fetch for the three checks";
  EXPECT_EQ(fetched_, std::vector<std::string>{kListUri});
  // A credential without a status claim has nothing to check.
  json plain = CredentialClaims(0);
  plain.erase("status");
  EXPECT_EQ(Reason(*v, plain), "ok");
}

TEST_F(KitStatusListTest, ARevocationIsSeenOnceTheCachedListIsTtlOld) {
  Serve(ListToken({}, kNow));
  auto v = Make(Options());
  EXPECT_EQ(Reason(*v, CredentialClaims(9)), "ok");
  Serve(ListToken({9}, kNow + 10));  // revoked at the issuer
  now_ = kNow + 59;
  EXPECT_EQ(Reason(*v, CredentialClaims(9)), "ok") << "within ttl: the cached list";
  now_ = kNow + 60;
  EXPECT_EQ(Reason(*v, CredentialClaims(9)), "revoked");
  EXPECT_EQ(v->status_fetch_count(), 2);
}

TEST_F(KitStatusListTest, AnUnreachableListIsUsedUntilMaxStaleThenFailsClosed) {
  Serve(ListToken({}, kNow));
  VerifierOptions o = Options();
  o.status_max_stale = 120s;
  auto v = Make(o);
  EXPECT_EQ(Reason(*v, CredentialClaims(1)), "ok");
  Down(true);
  now_ = kNow + 60 + 119;
  EXPECT_EQ(Reason(*v, CredentialClaims(1)), "ok") << "stale, within max_stale";
  now_ = kNow + 60 + 120;
  auto verdict = v->VerifyOffline(Mint(key_, "k1", CredentialClaims(1)));
  EXPECT_EQ(verdict.reason, "status_unavailable");
  EXPECT_TRUE(IsOperationalReason(verdict.reason));
  EXPECT_NE(verdict.detail.find("status server down"), std::string::npos) << verdict.detail;
  Down(false);
  now_ += 5;  // the retry interval
  Serve(ListToken({}, now_.load()));
  EXPECT_EQ(Reason(*v, CredentialClaims(1)), "ok") << "recovers";
}

TEST_F(KitStatusListTest, NoListEverFetchedFailsClosed) {
  Down(true);
  auto v = Make(Options());
  EXPECT_EQ(Reason(*v, CredentialClaims(1)), "status_unavailable");
}

TEST_F(KitStatusListTest, ListsThatAreNotTheIssuersAreRefused) {
  crypto::SigningKey other = NewKey();
  struct Case {
    const char* name;
    std::string token;
  };
  const std::vector<Case> cases = {
      {"signed by another key", ListToken({}, kNow, kListUri, "statuslist+jwt", &other)},
      {"another list's sub", ListToken({}, kNow, std::string(kIssuer) + "/status/0007a3b2-1")},
      {"wrong typ", ListToken({}, kNow, kListUri, "JWT")},
      {"expired", ListToken({}, kNow - 1000)},
      {"not a JWT", "garbage"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Serve(c.token);
    auto v = Make(Options());
    EXPECT_EQ(Reason(*v, CredentialClaims(1)), "status_unavailable");
  }
}

TEST_F(KitStatusListTest, OnlyUrisUnderTheIssuerAreFetched) {
  Serve(ListToken({}, kNow));
  VerifierOptions o = Options();
  o.status_fetcher = nullptr;  // plain HTTP: the uri rule applies
  auto v = Make(o);
  for (const std::string& uri : {std::string("https://evil.example/status/0007a3b2-0"),
                                 std::string(kIssuer) + "/status/../../x", std::string(kIssuer) + "/statusx/1",
                                 std::string(kIssuer) + "/status/", std::string(kIssuer) + "/status/a?b=1"}) {
    SCOPED_TRACE(uri);
    auto verdict = v->VerifyOffline(Mint(key_, "k1", CredentialClaims(1, uri)));
    EXPECT_EQ(verdict.reason, "status_unavailable");
    EXPECT_NE(verdict.detail.find("not under the configured issuer"), std::string::npos) << verdict.detail;
  }
}

TEST_F(KitStatusListTest, MalformedStatusClaimsAndIndexesBeyondTheList) {
  Serve(ListToken({}, kNow));
  auto v = Make(Options());
  for (const json& status : {json("x"), json::object(), json{{"status_list", {{"uri", kListUri}}}},
                             json{{"status_list", {{"idx", -1}, {"uri", kListUri}}}},
                             json{{"status_list", {{"idx", "1"}, {"uri", kListUri}}}},
                             json{{"status_list", {{"idx", 1}}}},
                             json{{"status_list", {{"idx", 65536}, {"uri", kListUri}}}}}) {
    SCOPED_TRACE(status.dump());
    json claims = CredentialClaims(0);
    claims["status"] = status;
    EXPECT_EQ(Reason(*v, claims), "malformed");
  }
}

TEST_F(KitStatusListTest, CheckStatusOffIgnoresTheClaim) {
  Down(true);
  VerifierOptions o = Options();
  o.check_status = false;
  auto v = Make(o);
  EXPECT_EQ(Reason(*v, CredentialClaims(1)), "ok");
  EXPECT_TRUE(fetched_.empty());
}

TEST_F(KitStatusListTest, AListFileOnDisk) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("taskcred-kit-status-" + crypto::NewUuid());
  std::ofstream(file) << ListToken({3}, kNow) << "\n";
  VerifierOptions o = Options();
  o.status_fetcher = nullptr;
  o.status_list_file = file.string();
  auto v = Make(o);
  EXPECT_EQ(Reason(*v, CredentialClaims(3)), "revoked");
  EXPECT_EQ(Reason(*v, CredentialClaims(4)), "ok");
  EXPECT_EQ(Reason(*v, CredentialClaims(4, std::string(kIssuer) + "/status/0007a3b2-9")), "status_unavailable")
      << "the file holds another list";
  now_ = kNow + 1000;
  json later = CredentialClaims(4);
  later["exp"] = kNow + 2000;
  EXPECT_EQ(Reason(*v, later), "status_unavailable") << "the file's list expired";
  std::filesystem::remove(file);
  o.status_list_file = "/nonexistent/list.jwt";
  auto bad = Verifier::Create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("status list file"), std::string::npos);
}

TEST_F(KitStatusListTest, AListOverHttp) {
  test::TestHttpServer server([this](const test::TestRequest& req) {
    test::TestResponse r;
    if (req.target != "/v1/taskcred/status/0007a3b2-0") {
      r.status = 404;
      return r;
    }
    r.content_type = "application/statuslist+jwt";
    r.body = ListToken({5}, test::UnixNow(), list_uri_);
    return r;
  });
  const std::string issuer = server.url() + "/v1/taskcred";
  VerifierOptions o = Options();
  o.issuer = issuer;
  o.status_fetcher = nullptr;
  o.clock = nullptr;  // the real clock: the list is signed now
  list_uri_ = issuer + "/status/0007a3b2-0";
  auto v = Make(o);
  auto claims = [&](uint32_t idx) {
    json c = CredentialClaims(idx, list_uri_);
    c["iss"] = issuer;
    c["iat"] = test::UnixNow();
    c["exp"] = test::UnixNow() + 600;
    return c;
  };
  EXPECT_EQ(Reason(*v, claims(5)), "revoked");
  EXPECT_EQ(Reason(*v, claims(6)), "ok");
  EXPECT_EQ(server.request_count(), 1);
}

}  // namespace
}  // namespace taskcred::kit
