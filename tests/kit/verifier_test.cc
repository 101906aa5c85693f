// Unit tests of taskcred::kit::Verifier: keys and tokens minted in-test,
// a fake clock and an injected JWKS fetcher; the HTTP paths against a
// loopback server.
#include "kit/verifier.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "crypto/encoding.h"
#include "crypto/signing_key.h"
#include "kit/http_client.h"
#include "kit/kit_test_util.h"

namespace taskcred::kit {
namespace {

using crypto::Algorithm;
using crypto::SigningKey;
using nlohmann::json;
using test::Jwks;
using test::Mint;
using namespace std::chrono_literals;

constexpr int64_t kNow = 1'800'000'000;
const char kIssuer[] = "https://vault.example.com/v1/taskcred";
const char kAudience[] = "backup-service";

SigningKey NewKey(Algorithm alg = Algorithm::kEdDSA) {
  auto k = SigningKey::Generate(alg);
  EXPECT_TRUE(k.ok());
  return *k;
}

json BaseClaims() {
  return {{"iss", kIssuer},
          {"sub", "entity-1"},
          {"aud", json::array({kAudience})},
          {"iat", kNow},
          {"nbf", kNow},
          {"exp", kNow + 900},
          {"jti", "11111111-2222-4333-8444-555555555555"},
          {"task", "nightly-backup"},
          {"role", "backup-job"},
          {"grants", json::array({{{"resource", "s3://backups/db1/*"}, {"actions", {"read", "write"}}},
                                  {{"resource", "kv://db1/backup-user"}, {"actions", {"read"}}}})}};
}

class VerifierTest : public ::testing::Test {
 protected:
  VerifierOptions Options() {
    VerifierOptions o;
    o.issuer = kIssuer;
    o.audience = kAudience;
    o.fetcher = [this]() -> common::Result<json> {
      ++fetches_;
      if (fail_fetch_) return common::Status::Unavailable("JWKS server down");
      return jwks_;
    };
    o.clock = [this] { return std::chrono::system_clock::time_point(std::chrono::seconds(now_.load())); };
    return o;
  }

  std::unique_ptr<Verifier> Make(VerifierOptions o) {
    auto v = Verifier::Create(std::move(o));
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(v).value() : nullptr;
  }
  std::unique_ptr<Verifier> Make() { return Make(Options()); }

  SigningKey k1_ = NewKey();
  SigningKey k2_ = NewKey();
  json jwks_ = Jwks({{&k1_, "k1"}});
  std::atomic<int> fetches_{0};
  std::atomic<bool> fail_fetch_{false};
  std::atomic<int64_t> now_{kNow};
};

TEST_F(VerifierTest, ValidCredentialOfEveryAlgorithm) {
  for (Algorithm alg : {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kRS256}) {
    SCOPED_TRACE(std::string(crypto::AlgorithmName(alg)));
    SigningKey key = NewKey(alg);
    jwks_ = Jwks({{&k1_, "k1"}, {&key, "kx"}});
    auto v = Make();
    Verdict d = v->VerifyOffline(Mint(key, "kx", BaseClaims()));
    ASSERT_TRUE(d.ok) << d.reason << ": " << d.detail;
    EXPECT_EQ(d.reason, "ok");
    EXPECT_EQ(d.claims.task_id, "11111111-2222-4333-8444-555555555555");
    EXPECT_EQ(d.claims.task, "nightly-backup");
    EXPECT_EQ(d.claims.role, "backup-job");
    EXPECT_EQ(d.claims.sub, "entity-1");
    EXPECT_EQ(d.claims.iss, kIssuer);
    EXPECT_EQ(d.claims.exp, kNow + 900);
    ASSERT_EQ(d.claims.grants.size(), 2u);
    EXPECT_EQ(d.claims.grants[0].resource, "s3://backups/db1/*");
  }
}

TEST_F(VerifierTest, AudienceAsStringOrArray) {
  auto v = Make();
  json c = BaseClaims();
  c["aud"] = kAudience;
  EXPECT_TRUE(v->VerifyOffline(Mint(k1_, "k1", c)).ok);
  c["aud"] = json::array({"other", kAudience});
  EXPECT_TRUE(v->VerifyOffline(Mint(k1_, "k1", c)).ok);
}

struct RefusalCase {
  std::string name;
  std::function<void(json&)> mutate;
  std::string reason;
};

TEST_F(VerifierTest, ClaimRefusalsTable) {
  const std::vector<RefusalCase> cases = {
      {"expired", [](json& c) { c["exp"] = kNow - 31; }, "expired"},
      {"expired_exactly_at_leeway", [](json& c) { c["exp"] = kNow - 30; }, "expired"},
      {"not_yet_valid_nbf", [](json& c) { c["nbf"] = kNow + 31; }, "not_yet_valid"},
      {"not_yet_valid_iat", [](json& c) { c["iat"] = kNow + 31; }, "not_yet_valid"},
      {"wrong_audience", [](json& c) { c["aud"] = json::array({"other-service"}); }, "wrong_audience"},
      {"no_audience", [](json& c) { c.erase("aud"); }, "wrong_audience"},
      {"audience_case", [](json& c) { c["aud"] = "Backup-Service"; }, "wrong_audience"},
      {"wrong_issuer", [](json& c) { c["iss"] = "https://evil.example.com/v1/taskcred"; }, "wrong_issuer"},
      {"issuer_trailing_slash", [](json& c) { c["iss"] = std::string(kIssuer) + "/"; }, "wrong_issuer"},
      {"no_issuer", [](json& c) { c.erase("iss"); }, "wrong_issuer"},
      {"no_exp", [](json& c) { c.erase("exp"); }, "malformed"},
      {"exp_string", [](json& c) { c["exp"] = "tomorrow"; }, "malformed"},
      {"no_jti", [](json& c) { c.erase("jti"); }, "malformed"},
      {"no_grants", [](json& c) { c.erase("grants"); }, "malformed"},
      {"bad_grant", [](json& c) { c["grants"] = json::array({{{"resource", "s3://b/x*"}, {"actions", {"read"}}}}); },
       "malformed"},
      {"grant_shorthand", [](json& c) { c["grants"] = json::array({"read s3://b/x"}); }, "malformed"},
  };
  auto v = Make();
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    json c = BaseClaims();
    tc.mutate(c);
    Verdict d = v->VerifyOffline(Mint(k1_, "k1", c));
    EXPECT_FALSE(d.ok);
    EXPECT_EQ(d.reason, tc.reason) << d.detail;
    EXPECT_FALSE(d.Allows("s3://backups/db1/1", "read"));
  }
}

TEST_F(VerifierTest, LeewayIsBoundedAndApplied) {
  VerifierOptions o = Options();
  o.leeway = 301s;
  EXPECT_FALSE(Verifier::Create(o).ok());
  o.leeway = -1s;
  EXPECT_FALSE(Verifier::Create(o).ok());
  o.leeway = kMaxLeeway;
  EXPECT_TRUE(Verifier::Create(o).ok());

  struct Case {
    int64_t leeway, exp_offset, nbf_offset;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {0, 0, 0, "expired"},         {0, 1, 0, "ok"},          {0, 1, 1, "not_yet_valid"},
      {30, -29, 0, "ok"},           {30, 100, 30, "ok"},      {30, 100, 31, "not_yet_valid"},
      {300, -299, 0, "ok"},         {300, -300, 0, "expired"}};
  for (const auto& tc : cases) {
    SCOPED_TRACE("leeway " + std::to_string(tc.leeway) + " exp " + std::to_string(tc.exp_offset) + " nbf " +
                 std::to_string(tc.nbf_offset));
    VerifierOptions opt = Options();
    opt.leeway = std::chrono::seconds(tc.leeway);
    auto v = Make(opt);
    json c = BaseClaims();
    c["exp"] = kNow + tc.exp_offset;
    c["nbf"] = kNow + tc.nbf_offset;
    c["iat"] = kNow;
    EXPECT_EQ(v->VerifyOffline(Mint(k1_, "k1", c)).reason, tc.reason);
  }
}

TEST_F(VerifierTest, TamperedCredentialsAreBadSignatures) {
  auto v = Make();
  const std::string token = Mint(k1_, "k1", BaseClaims());
  const size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  // A payload widened to s3://backups/** under the original signature.
  json wider = BaseClaims();
  wider["grants"] = json::array({{{"resource", "s3://backups/**"}, {"actions", {"read", "write"}}}});
  std::string swapped = token.substr(0, dot1 + 1) + crypto::Base64UrlEncode(wider.dump()) + token.substr(dot2);
  Verdict d = v->VerifyOffline(swapped);
  EXPECT_EQ(d.reason, "bad_signature") << d.detail;
  // A flipped signature byte.
  auto sig = crypto::Base64UrlDecode(token.substr(dot2 + 1));
  ASSERT_TRUE(sig.ok());
  std::string s = *sig;
  s[5] = static_cast<char>(s[5] ^ 1);
  EXPECT_EQ(v->VerifyOffline(token.substr(0, dot2 + 1) + crypto::Base64UrlEncode(s)).reason, "bad_signature");
  // Signed by another key under k1's kid.
  EXPECT_EQ(v->VerifyOffline(Mint(k2_, "k1", BaseClaims())).reason, "bad_signature");
  EXPECT_TRUE(v->VerifyOffline(token).ok);
}

std::string UnsignedToken(const json& header, const json& claims, const std::string& sig = "sig") {
  return crypto::Base64UrlEncode(header.dump()) + "." + crypto::Base64UrlEncode(claims.dump()) + "." +
         crypto::Base64UrlEncode(sig);
}

TEST_F(VerifierTest, HeaderRulesAndMalformedTokens) {
  auto v = Make();
  struct Case {
    std::string name, token, reason;
  };
  const std::vector<Case> cases = {
      {"garbage", "not-a-jwt", "malformed"},
      {"empty", "", "malformed"},
      {"two_parts", "a.b", "malformed"},
      {"alg_none", UnsignedToken({{"alg", "none"}, {"kid", "k1"}}, BaseClaims()), "bad_signature"},
      {"alg_hs256", UnsignedToken({{"alg", "HS256"}, {"kid", "k1"}}, BaseClaims()), "bad_signature"},
      {"alg_switch", UnsignedToken({{"alg", "RS256"}, {"kid", "k1"}}, BaseClaims()), "bad_signature"},
      {"no_kid", UnsignedToken({{"alg", "EdDSA"}}, BaseClaims()), "malformed"},
      {"typ_at_jwt", UnsignedToken({{"alg", "EdDSA"}, {"kid", "k1"}, {"typ", "at+jwt"}}, BaseClaims()), "malformed"},
      {"oversized", std::string(20000, 'a'), "malformed"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    Verdict d = v->VerifyOffline(tc.token);
    EXPECT_FALSE(d.ok);
    EXPECT_EQ(d.reason, tc.reason) << d.detail;
  }
}

TEST_F(VerifierTest, UnknownKidRefetchesThenRefusesAndRespectsTheInterval) {
  auto v = Make();
  ASSERT_TRUE(v->VerifyOffline(Mint(k1_, "k1", BaseClaims())).ok);
  EXPECT_EQ(fetches_.load(), 1);
  const std::string foreign = Mint(k2_, "k2", BaseClaims());
  // Within the refetch interval of the first fetch: no second fetch.
  EXPECT_EQ(v->VerifyOffline(foreign).reason, "unknown_kid");
  EXPECT_EQ(fetches_.load(), 1);
  now_ += 61;
  EXPECT_EQ(v->VerifyOffline(foreign).reason, "unknown_kid");
  EXPECT_EQ(fetches_.load(), 2);  // refetched once, still unknown
  for (int i = 0; i < 20; ++i) EXPECT_EQ(v->VerifyOffline(foreign).reason, "unknown_kid");
  EXPECT_EQ(fetches_.load(), 2);  // a flood of unknown kids never exceeds one fetch per interval
  now_ += 59;
  EXPECT_EQ(v->VerifyOffline(foreign).reason, "unknown_kid");
  EXPECT_EQ(fetches_.load(), 2);
  now_ += 2;
  EXPECT_EQ(v->VerifyOffline(foreign).reason, "unknown_kid");
  EXPECT_EQ(fetches_.load(), 3);
}

TEST_F(VerifierTest, RotatedKeyIsFoundAfterRefetch) {
  auto v = Make();
  ASSERT_TRUE(v->VerifyOffline(Mint(k1_, "k1", BaseClaims())).ok);
  // The issuer rotates: k2 appears in the JWKS and signs.
  jwks_ = Jwks({{&k2_, "k2"}, {&k1_, "k1"}});
  now_ += 61;
  Verdict d = v->VerifyOffline(Mint(k2_, "k2", BaseClaims()));
  EXPECT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(fetches_.load(), 2);
  EXPECT_TRUE(v->VerifyOffline(Mint(k1_, "k1", BaseClaims())).ok);  // still cached
  EXPECT_EQ(fetches_.load(), 2);
}

TEST_F(VerifierTest, ZeroIntervalRefetchesOnEveryUnknownKid) {
  VerifierOptions o = Options();
  o.min_refetch_interval = 0s;
  auto v = Make(o);
  const std::string foreign = Mint(k2_, "k2", BaseClaims());
  EXPECT_EQ(v->VerifyOffline(foreign).reason, "unknown_kid");
  EXPECT_EQ(v->VerifyOffline(foreign).reason, "unknown_kid");
  EXPECT_EQ(fetches_.load(), 3);  // initial + two refetches
}

TEST_F(VerifierTest, JwksMaxAgeRefreshesAndAFailedRefreshKeepsTheKeys) {
  VerifierOptions o = Options();
  o.jwks_max_age = 300s;
  auto v = Make(o);
  const std::string token = Mint(k1_, "k1", BaseClaims());
  ASSERT_TRUE(v->VerifyOffline(token).ok);
  now_ += 299;
  ASSERT_TRUE(v->VerifyOffline(token).ok);
  EXPECT_EQ(fetches_.load(), 1);
  now_ += 2;
  fail_fetch_ = true;
  EXPECT_TRUE(v->VerifyOffline(token).ok);  // stale keys still verify
  EXPECT_EQ(fetches_.load(), 2);
  EXPECT_TRUE(v->VerifyOffline(token).ok);  // and the failure is not retried at once
  EXPECT_EQ(fetches_.load(), 2);
}

TEST_F(VerifierTest, UnreachableJwksIsOperationalAndRecovers) {
  fail_fetch_ = true;
  auto v = Make();
  const std::string token = Mint(k1_, "k1", BaseClaims());
  Verdict d = v->VerifyOffline(token);
  EXPECT_EQ(d.reason, "jwks_unavailable");
  EXPECT_TRUE(IsOperationalReason(d.reason));
  EXPECT_EQ(v->VerifyOffline(token).reason, "jwks_unavailable");
  EXPECT_EQ(fetches_.load(), 1);  // cold retries are rate limited too
  fail_fetch_ = false;
  now_ += 6;
  EXPECT_TRUE(v->VerifyOffline(token).ok);
  EXPECT_EQ(fetches_.load(), 2);
}

TEST_F(VerifierTest, AllowsUsesTheGrantsDefinition) {
  auto v = Make();
  const std::string token = Mint(k1_, "k1", BaseClaims());
  Verdict d = v->VerifyOffline(token);
  ASSERT_TRUE(d.ok);
  struct Case {
    std::string resource, action;
    bool allowed;
  };
  const std::vector<Case> cases = {
      {"s3://backups/db1/4711", "write", true},  {"s3://backups/db1/4711", "read", true},
      {"s3://backups/db1/4711", "delete", false}, {"s3://backups/db1", "read", false},
      {"s3://backups/db1/a/b", "read", false},    {"s3://backups/db1x/a", "read", false},
      {"s3://backups/db1/../db2/x", "read", false}, {"s3://backups/db1/a%2fb", "read", false},
      {"kv://db1/backup-user", "read", true},     {"kv://db1/backup-user", "write", false},
      {"S3://backups/db1/4711", "read", false},   {"s3://backups/db1/4711", "Read", false},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.resource + " " + tc.action);
    EXPECT_EQ(d.Allows(tc.resource, tc.action), tc.allowed);
    Verdict c = v->Check(token, tc.resource, tc.action);
    EXPECT_EQ(c.ok, tc.allowed);
    EXPECT_EQ(c.reason, tc.allowed ? "ok" : "not_allowed");
    EXPECT_EQ(c.claims.task_id, d.claims.task_id);  // the claims are kept on a refusal
  }
  EXPECT_EQ(v->Check(token, "s3://backups/db1/1", "").reason, "not_allowed");
  Verdict refused = v->VerifyOffline(Mint(k1_, "k1", [] { json c = BaseClaims(); c["exp"] = kNow - 100; return c; }()));
  EXPECT_FALSE(refused.Allows("s3://backups/db1/4711", "write"));
}

TEST_F(VerifierTest, ConfigurationErrors) {
  struct Case {
    std::string name;
    std::function<void(VerifierOptions&)> mutate;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"no_source", [](VerifierOptions& o) { o.fetcher = nullptr; }, "JWKS source"},
      {"two_sources", [](VerifierOptions& o) { o.jwks_url = "https://x.example/jwks"; }, "exactly one"},
      {"no_issuer", [](VerifierOptions& o) { o.issuer.clear(); }, "issuer"},
      {"no_audience", [](VerifierOptions& o) { o.audience.clear(); }, "audience"},
      {"bad_url", [](VerifierOptions& o) { o.fetcher = nullptr; o.jwks_url = "ftp://x/jwks"; }, "jwks_url"},
      {"missing_file", [](VerifierOptions& o) { o.fetcher = nullptr; o.jwks_file = "/nonexistent/jwks.json"; },
       "cannot read"},
      {"bad_static", [](VerifierOptions& o) { o.fetcher = nullptr; o.jwks = json::array(); }, "keys"},
      {"online_no_token", [](VerifierOptions& o) { o.vault_addr = "http://127.0.0.1:8200"; }, "vault_token"},
      {"online_bad_mount",
       [](VerifierOptions& o) { o.vault_addr = "http://127.0.0.1:8200"; o.vault_token = "t"; o.mount = "a/../b"; },
       "mount"},
      {"refetch_negative", [](VerifierOptions& o) { o.min_refetch_interval = -1s; }, "min_refetch_interval"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    VerifierOptions o = Options();
    tc.mutate(o);
    auto v = Verifier::Create(o);
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.status().message().find(tc.needle), std::string::npos) << v.status().message();
  }
}

TEST_F(VerifierTest, StaticJwksAndEnvelopedJwks) {
  VerifierOptions o = Options();
  o.fetcher = nullptr;
  o.jwks = json{{"data", jwks_}};  // as saved from `vault read -format=json`
  auto v = Make(o);
  EXPECT_TRUE(v->VerifyOffline(Mint(k1_, "k1", BaseClaims())).ok);
  EXPECT_EQ(v->VerifyOffline(Mint(k2_, "k2", BaseClaims())).reason, "unknown_kid");
  EXPECT_EQ(v->jwks_fetch_count(), 0);
}

TEST_F(VerifierTest, ConcurrentUnknownKidsFetchOnce) {
  auto v = Make();
  ASSERT_TRUE(v->VerifyOffline(Mint(k1_, "k1", BaseClaims())).ok);
  jwks_ = Jwks({{&k1_, "k1"}, {&k2_, "k2"}});
  now_ += 61;
  const std::string token = Mint(k2_, "k2", BaseClaims());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 20; ++j) ok += v->VerifyOffline(token).ok ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_EQ(fetches_.load(), 2);
}

// ---- over HTTP ----

TEST_F(VerifierTest, JwksUrlOverHttp) {
  std::atomic<int> status{200};
  test::TestHttpServer server([&](const test::TestRequest& req) {
    test::TestResponse res;
    res.status = status.load();
    res.body = req.target == "/v1/taskcred/jwks" ? jwks_.dump() : "{}";
    return res;
  });
  VerifierOptions o = Options();
  o.fetcher = nullptr;
  o.jwks_url = server.url() + "/v1/taskcred/jwks";
  auto v = Make(o);
  EXPECT_EQ(server.request_count(), 0);  // nothing fetched at Create
  EXPECT_TRUE(v->VerifyOffline(Mint(k1_, "k1", BaseClaims())).ok);
  EXPECT_EQ(server.request_count(), 1);

  status = 500;
  VerifierOptions o2 = o;
  auto v2 = Make(o2);
  Verdict d = v2->VerifyOffline(Mint(k1_, "k1", BaseClaims()));
  EXPECT_EQ(d.reason, "jwks_unavailable");
  EXPECT_NE(d.detail.find("HTTP 500"), std::string::npos) << d.detail;
}

TEST_F(VerifierTest, JwksUrlTransportFailures) {
  test::TestHttpServer server([&](const test::TestRequest&) { return test::TestResponse{.body = jwks_.dump()}; });
  struct Case {
    std::string name, url;
  };
  const int closed = test::FreePort();
  const std::vector<Case> cases = {
      {"refused", "http://127.0.0.1:" + std::to_string(closed) + "/jwks"},
      {"tls_to_plain_http", "https://127.0.0.1:" + std::to_string(server.port()) + "/jwks"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    VerifierOptions o = Options();
    o.fetcher = nullptr;
    o.jwks_url = tc.url;
    o.http_timeout = 2000ms;
    auto v = Make(o);
    Verdict d = v->VerifyOffline(Mint(k1_, "k1", BaseClaims()));
    EXPECT_EQ(d.reason, "jwks_unavailable") << d.detail;
  }
}

TEST(HttpClientTest, TimeoutIsEnforced) {
  test::TestHttpServer slow([](const test::TestRequest&) { return test::TestResponse{.body = "{}", .delay = 1000ms}; });
  HttpOptions o;
  o.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto r = HttpCall("GET", slow.url() + "/x", {}, "", o);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST(HttpClientTest, ParseUrlTable) {
  struct Case {
    std::string url;
    bool ok;
    std::string host, port, target;
  };
  const std::vector<Case> cases = {
      {"http://127.0.0.1:8200", true, "127.0.0.1", "8200", "/"},
      {"https://vault.example.com/v1/taskcred/jwks", true, "vault.example.com", "443", "/v1/taskcred/jwks"},
      {"http://[::1]:80/x?y=1", true, "::1", "80", "/x?y=1"},
      {"http://h?q", true, "h", "80", "/?q"},
      {"ftp://h/x", false, "", "", ""},
      {"http://user@h/x", false, "", "", ""},
      {"http://h:0/x", false, "", "", ""},
      {"http://h:99999/x", false, "", "", ""},
      {"http:///x", false, "", "", ""},
      {"http://h/x#f", false, "", "", ""},
      {"http://h/a b", false, "", "", ""},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.url);
    auto u = ParseUrl(tc.url);
    ASSERT_EQ(u.ok(), tc.ok) << u.status().ToString();
    if (!tc.ok) continue;
    EXPECT_EQ(u->host, tc.host);
    EXPECT_EQ(u->port, tc.port);
    EXPECT_EQ(u->target, tc.target);
  }
}

// ---- online (introspect) against a canned Vault ----

class OnlineTest : public ::testing::Test {
 protected:
  OnlineTest()
      : vault_([this](const test::TestRequest& req) {
          std::lock_guard lock(mu_);
          last_ = req;
          test::TestResponse res;
          res.status = status_;
          res.body = answer_.dump();
          return res;
        }) {}

  std::unique_ptr<Verifier> Make(std::function<void(VerifierOptions&)> tweak = nullptr) {
    VerifierOptions o;
    o.vault_addr = vault_.url() + "/";
    o.vault_token = "hvs.resource-service";
    o.vault_namespace = "team-a";
    o.mount = "/taskcred-prod/";
    if (tweak) tweak(o);
    auto v = Verifier::Create(o);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return std::move(v).value();
  }

  static json Active() {
    return {{"data",
             {{"active", true},
              {"iss", kIssuer},
              {"task", "nightly-backup"},
              {"task_id", "t-1"},
              {"role", "backup-job"},
              {"sub", "entity-1"},
              {"aud", {kAudience}},
              {"exp", kNow + 900},
              {"iat", kNow},
              {"credential_type", "jwt"},
              {"uses_remaining", 2},
              {"grants", json::array({{{"resource", "s3://backups/db1/*"}, {"actions", {"write"}}}})},
              {"allowed", true}}}};
  }

  std::mutex mu_;
  test::TestRequest last_;
  int status_ = 200;
  json answer_ = Active();
  test::TestHttpServer vault_;
};

TEST_F(OnlineTest, ActiveAllowedAndTheRequestVaultSees) {
  auto v = Make();
  Verdict d = v->VerifyOnline("the-credential", true, "s3://backups/db1/1", "write");
  ASSERT_TRUE(d.ok) << d.reason << ": " << d.detail;
  EXPECT_EQ(d.claims.task_id, "t-1");
  EXPECT_EQ(d.claims.uses_remaining, 2);
  EXPECT_TRUE(d.Allows("s3://backups/db1/2", "write"));
  std::lock_guard lock(mu_);
  EXPECT_EQ(last_.method, "PUT");
  EXPECT_EQ(last_.target, "/v1/taskcred-prod/introspect");
  EXPECT_EQ(last_.headers["x-vault-token"], "hvs.resource-service");
  EXPECT_EQ(last_.headers["x-vault-namespace"], "team-a");
  json body = json::parse(last_.body);
  EXPECT_EQ(body, json({{"token", "the-credential"}, {"consume", true}, {"resource", "s3://backups/db1/1"},
                        {"action", "write"}}));
}

TEST_F(OnlineTest, RefusalsTable) {
  struct Case {
    std::string name;
    std::function<void(json&, int&)> mutate;
    std::function<void(VerifierOptions&)> tweak;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"inactive", [](json& a, int&) { a = {{"data", {{"active", false}}}}; }, nullptr, "inactive"},
      {"not_allowed", [](json& a, int&) { a["data"]["allowed"] = false; }, nullptr, "not_allowed"},
      {"allowed_missing", [](json& a, int&) { a["data"].erase("allowed"); }, nullptr, "not_allowed"},
      {"engine_allows_outside_grants",
       [](json& a, int&) { a["data"]["grants"][0]["resource"] = "s3://backups/db2/*"; }, nullptr, "not_allowed"},
      {"http_403", [](json& a, int& s) { s = 403; a = {{"errors", {"permission denied"}}}; }, nullptr,
       "introspect_failed"},
      {"not_json", [](json& a, int&) { a = "oops"; }, nullptr, "introspect_failed"},
      {"wrong_issuer", [](json&, int&) {}, [](VerifierOptions& o) { o.issuer = "https://other/v1/taskcred"; },
       "wrong_issuer"},
      {"wrong_audience", [](json&, int&) {}, [](VerifierOptions& o) { o.audience = "other"; }, "wrong_audience"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    {
      std::lock_guard lock(mu_);
      answer_ = Active();
      status_ = 200;
      tc.mutate(answer_, status_);
    }
    auto v = Make(tc.tweak);
    Verdict d = v->Check("cred", "s3://backups/db1/1", "write");
    EXPECT_FALSE(d.ok);
    EXPECT_EQ(d.reason, tc.reason) << d.detail;
  }
}

TEST_F(OnlineTest, UnreachableVaultIsOperational) {
  VerifierOptions o;
  o.vault_addr = "http://127.0.0.1:" + std::to_string(test::FreePort());
  o.vault_token = "t";
  auto v = Verifier::Create(o);
  ASSERT_TRUE(v.ok());
  Verdict d = (*v)->Check("cred");
  EXPECT_EQ(d.reason, "introspect_failed");
  EXPECT_TRUE(IsOperationalReason(d.reason));
}

}  // namespace
}  // namespace taskcred::kit
