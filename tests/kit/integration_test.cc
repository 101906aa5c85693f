// The enforcement kit against credentials minted by the REAL taskcred plugin
// (tests/harness PluginHost, tests/plugin PluginSuite): the Verifier library
// and the taskcred-verify CLI accept them and refuse tampered, expired,
// not-yet-valid, wrong-audience, wrong-issuer, unknown-kid, removed-key and
// (online) revoked/released/spent ones, each with its stable reason. JWKS and
// introspect reach the plugin over loopback HTTP through VaultFront.
#include <atomic>
#include <functional>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/encoding.h"
#include "crypto/jwt.h"
#include "kit/http_client.h"
#include "kit/kit_test_util.h"
#include "kit/verifier.h"
#include "plugin_fixture.h"
#include "kit_mount.h"
#include "vault_front.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

kit::Clock At(int64_t unix_seconds) {
  return [unix_seconds] { return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds)); };
}

// ---- token surgery ----

std::vector<std::string> Parts(const std::string& token) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t dot = token.find('.'); dot != std::string::npos; dot = token.find('.', start)) {
    out.push_back(token.substr(start, dot - start));
    start = dot + 1;
  }
  out.push_back(token.substr(start));
  return out;
}

json DecodePart(const std::string& part) { return json::parse(*crypto::Base64UrlDecode(part)); }
std::string EncodePart(const json& j) { return crypto::Base64UrlEncode(j.dump()); }

// Widens the grants in the payload; the signature is kept.
std::string TamperClaims(const std::string& token) {
  auto p = Parts(token);
  json claims = DecodePart(p[1]);
  claims["grants"][0]["resource"] = "s3://backups/**";
  return p[0] + "." + EncodePart(claims) + "." + p[2];
}

std::string TamperSignature(const std::string& token) {
  auto p = Parts(token);
  char& c = p[2][p[2].size() / 2];
  c = c == 'A' ? 'B' : 'A';
  return p[0] + "." + p[1] + "." + p[2];
}

std::string WithHeaderAlg(const std::string& token, const std::string& alg) {
  auto p = Parts(token);
  json header = DecodePart(p[0]);
  header["alg"] = alg;
  return EncodePart(header) + "." + p[1] + "." + p[2];
}

std::string KidOf(const std::string& token) { return DecodePart(Parts(token)[0])["kid"]; }

bool JwksHas(const json& jwks, const std::string& kid) {
  if (!jwks.is_object() || !jwks.contains("keys")) return false;
  for (const auto& k : jwks["keys"]) {
    if (k.value("kid", "") == kid) return true;
  }
  return false;
}

json CliJson(const RunResult& r) {
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out << r.err;
  return j.is_discarded() ? json::object() : j;
}

// ===================== per algorithm: library and CLI =====================

class KitAlgorithmTest : public PluginSuite, public ::testing::WithParamInterface<std::string> {};

TEST_P(KitAlgorithmTest, LibraryAcceptsTheRealCredentialAndRefusesEachCaseWithItsReason) {
  const std::string alg = GetParam();
  auto m = NewAlgorithmMount(alg);
  auto foreign = NewAlgorithmMount(alg);  // same issuer, other keys
  ASSERT_TRUE(m && foreign);
  RequestResult issued = m->Issue("backup", {{"snapshot_id", "4711"}});
  const std::string cred = issued.data["credential"];
  auto decoded = crypto::DecodeJwt(cred);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->header["alg"], alg);
  EXPECT_EQ(m->Jwks()["keys"][0]["alg"], alg);

  auto v = MakeVerifier(OfflineOptions(*m));
  ASSERT_NE(v, nullptr);
  kit::Verdict d = v->VerifyOffline(cred);
  ASSERT_TRUE(d.ok) << d.reason << ": " << d.detail;
  EXPECT_EQ(d.reason, kit::kReasonOk);
  EXPECT_EQ(d.claims.task_id, issued.data["task_id"]);
  EXPECT_EQ(d.claims.role, "backup");
  EXPECT_EQ(d.claims.task, "nightly-backup");
  EXPECT_EQ(d.claims.sub, kEntity);
  EXPECT_EQ(d.claims.iss, kIssuer);
  EXPECT_EQ(d.claims.aud, std::vector<std::string>{kAudience});
  EXPECT_EQ(d.claims.exp, decoded->claims["exp"].get<int64_t>());
  ASSERT_EQ(d.claims.grants.size(), 2u);

  struct Ask {
    std::string resource, action;
    bool allowed;
  };
  for (const Ask& a : std::vector<Ask>{{"s3://backups/db1/4711", "write", true},
                                       {"kv://db1/backup-user", "read", true},
                                       {"s3://backups/db1/4711", "read", false},
                                       {"s3://backups/db1/4712", "write", false},
                                       {"s3://backups/db1/47110", "write", false},
                                       {"s3://backups/db1/4711/x", "write", false},
                                       {"s3://backups/db1/4711/../4712", "write", false},
                                       {"s3://backups/db2/4711", "write", false},
                                       {"kv://db1/backup-user", "write", false}}) {
    EXPECT_EQ(d.Allows(a.resource, a.action), a.allowed) << a.action << " " << a.resource;
    kit::Verdict c = v->Check(cred, a.resource, a.action);
    EXPECT_EQ(c.reason, a.allowed ? kit::kReasonOk : kit::kReasonNotAllowed) << a.action << " " << a.resource;
    EXPECT_EQ(c.ok, a.allowed);
  }

  const int64_t exp = d.claims.exp;
  const int64_t iat = d.claims.iat;
  const std::string other_alg = alg == "EdDSA" ? "ES256" : "EdDSA";
  struct Case {
    std::string name;
    std::string token;
    std::function<void(kit::VerifierOptions&)> tweak;
    std::string_view reason;
  };
  const std::vector<Case> refusals = {
      {"tampered_claims", TamperClaims(cred), nullptr, kit::kReasonBadSignature},
      {"tampered_signature", TamperSignature(cred), nullptr, kit::kReasonBadSignature},
      {"algorithm_switched", WithHeaderAlg(cred, other_alg), nullptr, kit::kReasonBadSignature},
      {"alg_none", WithHeaderAlg(cred, "none"), nullptr, kit::kReasonBadSignature},
      {"alg_hs256", WithHeaderAlg(cred, "HS256"), nullptr, kit::kReasonBadSignature},
      {"unknown_kid", foreign->Credential("backup", {{"snapshot_id", "4711"}}), nullptr, kit::kReasonUnknownKid},
      {"wrong_audience", cred, [](kit::VerifierOptions& o) { o.audience = "other-service"; },
       kit::kReasonWrongAudience},
      {"wrong_issuer", cred, [](kit::VerifierOptions& o) { o.issuer = "https://vault.test/v1/other"; },
       kit::kReasonWrongIssuer},
      {"expired_no_leeway", cred,
       [exp](kit::VerifierOptions& o) {
         o.leeway = 0s;
         o.clock = At(exp);
       },
       kit::kReasonExpired},
      {"expired_past_default_leeway", cred, [exp](kit::VerifierOptions& o) { o.clock = At(exp + 30); },
       kit::kReasonExpired},
      {"not_yet_valid", cred, [iat](kit::VerifierOptions& o) { o.clock = At(iat - 31); }, kit::kReasonNotYetValid},
      {"not_a_jwt", "not-a-jwt", nullptr, kit::kReasonMalformed},
  };
  for (const Case& tc : refusals) {
    SCOPED_TRACE(tc.name);
    kit::VerifierOptions o = OfflineOptions(*m);
    if (tc.tweak) tc.tweak(o);
    auto verifier = MakeVerifier(std::move(o));
    ASSERT_NE(verifier, nullptr);
    kit::Verdict r = verifier->VerifyOffline(tc.token);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.reason, tc.reason) << r.detail;
    EXPECT_FALSE(r.Allows("s3://backups/db1/4711", "write"));
    EXPECT_EQ(r.detail.find(tc.token), std::string::npos) << "the credential is echoed in the detail";
  }
  // The leeway boundaries the other way round.
  for (const auto& [name, tweak] :
       std::vector<std::pair<std::string, std::function<void(kit::VerifierOptions&)>>>{
           {"last_second", [exp](kit::VerifierOptions& o) { o.leeway = 0s; o.clock = At(exp - 1); }},
           {"inside_default_leeway", [exp](kit::VerifierOptions& o) { o.clock = At(exp + 29); }},
           {"early_inside_leeway", [iat](kit::VerifierOptions& o) { o.clock = At(iat - 30); }}}) {
    SCOPED_TRACE(name);
    kit::VerifierOptions o = OfflineOptions(*m);
    tweak(o);
    auto verifier = MakeVerifier(std::move(o));
    ASSERT_NE(verifier, nullptr);
    kit::Verdict r = verifier->VerifyOffline(cred);
    EXPECT_TRUE(r.ok) << r.reason << ": " << r.detail;
  }
}

TEST_P(KitAlgorithmTest, CliAcceptsTheRealCredentialAndRefusesWithExitCodeAndReason) {
  const std::string alg = GetParam();
  auto m = NewAlgorithmMount(alg);
  auto foreign = NewAlgorithmMount(alg);
  ASSERT_TRUE(m && foreign);
  RequestResult issued = m->Issue("backup", {{"snapshot_id", "4711"}});
  const std::string cred = issued.data["credential"];
  TempDir dir;
  const std::string file = dir.Write("jwks.json", m->Jwks().dump());
  auto args = [&](const std::string& jwks, std::vector<std::string> extra) {
    std::vector<std::string> a = {"--jwks", jwks, "--issuer", kIssuer, "--audience", kAudience, "--json"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  struct Case {
    std::string name;
    std::vector<std::string> args;
    int exit_code;
    std::string reason;
  };
  const std::string url = m->front->jwks_url();
  const std::vector<Case> cases = {
      {"url_allowed", args(url, {"--resource", "s3://backups/db1/4711", "--action", "write", cred}), 0, "ok"},
      {"file_valid", args(file, {cred}), 0, "ok"},
      {"file_allowed", args(file, {"--resource", "kv://db1/backup-user", "--action", "read", cred}), 0, "ok"},
      {"not_allowed", args(url, {"--resource", "s3://backups/db1/4712", "--action", "write", cred}), 1,
       "not_allowed"},
      {"wrong_action", args(file, {"--resource", "s3://backups/db1/4711", "--action", "read", cred}), 1,
       "not_allowed"},
      {"tampered", args(url, {TamperClaims(cred)}), 1, "bad_signature"},
      {"unknown_kid", args(file, {foreign->Credential("backup", {{"snapshot_id", "1"}})}), 1, "unknown_kid"},
      {"wrong_audience", {"--jwks", url, "--issuer", kIssuer, "--audience", "other", "--json", cred}, 1,
       "wrong_audience"},
      {"wrong_issuer", {"--jwks", file, "--issuer", "https://x.test/v1/t", "--audience", kAudience, "--json", cred},
       1, "wrong_issuer"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    RunResult r = RunTool(VerifyPath(), tc.args);
    EXPECT_EQ(r.exit_code, tc.exit_code) << r.out << r.err;
    json j = CliJson(r);
    EXPECT_EQ(j["reason"], tc.reason) << r.out;
    EXPECT_EQ(j["ok"], tc.exit_code == 0);
    if (tc.exit_code == 0) {
      EXPECT_EQ(j["claims"]["task_id"], issued.data["task_id"]);
    }
  }
  RunResult text = RunTool(VerifyPath(), {"--jwks", url, "--issuer", kIssuer, "--audience", kAudience, "--resource",
                                          "s3://backups/db1/4711", "--action", "write", cred});
  EXPECT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_NE(text.out.find("allowed: task_id=" + issued.data["task_id"].get<std::string>()), std::string::npos)
      << text.out;
}

INSTANTIATE_TEST_SUITE_P(Algorithms, KitAlgorithmTest, ::testing::Values("EdDSA", "ES256", "RS256"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// ===================== key rotation and expiry =====================

class KitRotationTest : public PluginSuite {};

TEST_F(KitRotationTest, UnknownKidRefetchesAtMostOncePerInterval) {
  auto m = NewAlgorithmMount("EdDSA");
  ASSERT_NE(m, nullptr);
  auto offset = std::make_shared<std::atomic<int64_t>>(0);
  kit::VerifierOptions o = OfflineOptions(*m);
  o.min_refetch_interval = 60s;
  o.clock = [offset] { return std::chrono::system_clock::now() + std::chrono::seconds(offset->load()); };
  auto v = MakeVerifier(std::move(o));
  ASSERT_NE(v, nullptr);

  const std::string t1 = m->Credential("backup", {{"snapshot_id", "1"}});
  ASSERT_TRUE(v->VerifyOffline(t1).ok);
  EXPECT_EQ(v->jwks_fetch_count(), 1);

  // The next key was published before it signs: no refetch needed.
  m->Ok("update", "rotate");
  const std::string t2 = m->Credential("backup", {{"snapshot_id", "2"}});
  EXPECT_NE(KidOf(t2), KidOf(t1));
  kit::Verdict d2 = v->VerifyOffline(t2);
  EXPECT_TRUE(d2.ok) << d2.reason;
  EXPECT_EQ(v->jwks_fetch_count(), 1);

  // Two rotations on, the signer was generated after our fetch: unknown in
  // the cache, and the interval forbids a refetch yet.
  m->Ok("update", "rotate");
  const std::string t3 = m->Credential("backup", {{"snapshot_id", "3"}});
  kit::Verdict early = v->VerifyOffline(t3);
  EXPECT_EQ(early.reason, kit::kReasonUnknownKid);
  EXPECT_EQ(v->jwks_fetch_count(), 1);

  // After the interval one refetch finds it; the retired keys still verify.
  offset->store(61);
  kit::Verdict d3 = v->VerifyOffline(t3);
  EXPECT_TRUE(d3.ok) << d3.reason << ": " << d3.detail;
  EXPECT_EQ(v->jwks_fetch_count(), 2);
  EXPECT_TRUE(v->VerifyOffline(t1).ok);
  EXPECT_TRUE(v->VerifyOffline(t2).ok);
  EXPECT_EQ(v->jwks_fetch_count(), 2);

  // A kid nobody publishes: one refetch per interval, never more.
  auto foreign = NewAlgorithmMount("EdDSA");
  ASSERT_NE(foreign, nullptr);
  const std::string stranger = foreign->Credential("backup", {{"snapshot_id", "4"}});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(v->VerifyOffline(stranger).reason, kit::kReasonUnknownKid);
  EXPECT_EQ(v->jwks_fetch_count(), 2);
  offset->store(122);
  EXPECT_EQ(v->VerifyOffline(stranger).reason, kit::kReasonUnknownKid);
  EXPECT_EQ(v->jwks_fetch_count(), 3);
}

TEST_F(KitRotationTest, RemovedKeyIsRefusedAsUnknownKidAndTheNewKeyAccepted) {
  // verification_ttl 2 s: a retired key leaves the JWKS 2 s after rotation.
  auto m = NewMount({{"verification_ttl", 2}});
  ASSERT_NE(m, nullptr);
  m->Ok("update", "rotate");  // the active key now carries max_token_ttl = 2 s
  m->Ok("update", "roles/short", {{"task", "short"}, {"grants", "read kv://db1/backup-user"}, {"ttl", 2},
                                  {"max_ttl", 2}, {"audience", kAudience}});
  const std::string old_token = m->Credential("short");
  kit::VerifierOptions o = OfflineOptions(*m);
  o.leeway = 300s;  // keep expiry out of the way: this is about keys
  o.min_refetch_interval = 0s;
  auto cached = MakeVerifier(o);
  ASSERT_NE(cached, nullptr);
  kit::Verdict before = cached->VerifyOffline(old_token);
  EXPECT_TRUE(before.ok) << before.reason << ": " << before.detail;

  m->Ok("update", "rotate");
  const std::string new_token = m->Credential("short");
  ASSERT_NE(KidOf(new_token), KidOf(old_token));
  EXPECT_TRUE(JwksHas(m->Jwks(), KidOf(old_token))) << "a retired key stays published for verification_ttl";

  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (JwksHas(m->Jwks(), KidOf(old_token)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);  // polling the JWKS: the engine's clock decides
  }
  ASSERT_FALSE(JwksHas(m->Jwks(), KidOf(old_token))) << "retired key still in the JWKS";

  auto fresh = MakeVerifier(o);
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->VerifyOffline(old_token).reason, kit::kReasonUnknownKid);
  kit::Verdict current = fresh->VerifyOffline(new_token);
  EXPECT_TRUE(current.ok) << current.reason << ": " << current.detail;
  ASSERT_TRUE(cached->RefreshJwks().ok());
  EXPECT_EQ(cached->VerifyOffline(old_token).reason, kit::kReasonUnknownKid);
  EXPECT_TRUE(cached->VerifyOffline(new_token).ok);

  const std::vector<std::string> cli = {"--jwks", m->front->jwks_url(), "--issuer", kIssuer, "--audience", kAudience,
                                        "--leeway", "300", "--json"};
  auto with = [&](const std::string& token) {
    std::vector<std::string> a = cli;
    a.push_back(token);
    return a;
  };
  RunResult r = RunTool(VerifyPath(), with(old_token));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(CliJson(r)["reason"], "unknown_kid");
  r = RunTool(VerifyPath(), with(new_token));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(KitRotationTest, CliRefusesAnExpiredCredentialOnceTheLeewayIsSpent) {
  auto m = NewAlgorithmMount("ES256");
  ASSERT_NE(m, nullptr);
  m->Ok("update", "roles/brief", {{"task", "brief"}, {"grants", "read kv://db1/backup-user"}, {"ttl", 1},
                                  {"audience", kAudience}});
  const std::string token = m->Credential("brief");
  const int64_t exp = DecodePart(Parts(token)[1])["exp"];
  TempDir dir;
  const std::string file = dir.Write("jwks.json", m->Jwks().dump());
  // Wait (bounded: ttl is 1 s) until the credential has expired by the wall clock.
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::seconds(exp)) + 50ms);
  std::vector<std::string> a = {"--jwks", file, "--issuer", kIssuer, "--audience", kAudience, "--json"};
  a.push_back(token);
  RunResult lenient = RunTool(VerifyPath(), a);  // default leeway 30 s
  EXPECT_EQ(lenient.exit_code, 0) << lenient.out << lenient.err;
  a.insert(a.begin(), {"--leeway", "0"});
  RunResult strict = RunTool(VerifyPath(), a);
  EXPECT_EQ(strict.exit_code, 1) << strict.out << strict.err;
  EXPECT_EQ(CliJson(strict)["reason"], "expired");
}

// ===================== online (introspect) =====================

class KitOnlineTest : public PluginSuite {
 protected:
  void SetUp() override {
    m_ = NewMount(json::object());
    ASSERT_NE(m_, nullptr);
    m_->Ok("update", "roles/backup", BackupRoleFor());
    m_->Ok("update", "roles/once", BackupRoleFor({{"max_uses", 1}}));
    m_->Ok("update", "roles/opaque", BackupRoleFor({{"credential_type", "opaque"}}));
  }
  std::unique_ptr<KitMount> m_;
};

TEST_F(KitOnlineTest, LibrarySeesRevocationReleaseAndSpentUses) {
  RequestResult issued = m_->Issue("backup", {{"snapshot_id", "4711"}});
  const std::string cred = issued.data["credential"];
  auto online = MakeVerifier(OnlineOptions(*m_));
  auto offline = MakeVerifier(OfflineOptions(*m_));
  ASSERT_TRUE(online && offline);

  kit::Verdict d = online->VerifyOnline(cred, false, "s3://backups/db1/4711", "write");
  ASSERT_TRUE(d.ok) << d.reason << ": " << d.detail;
  EXPECT_EQ(d.claims.task_id, issued.data["task_id"]);
  EXPECT_EQ(d.claims.iss, kIssuer);
  EXPECT_EQ(d.claims.grants.size(), 2u);
  EXPECT_TRUE(d.Allows("kv://db1/backup-user", "read"));
  EXPECT_EQ(online->Check(cred, "s3://backups/db1/4712", "write").reason, kit::kReasonNotAllowed);
  EXPECT_EQ(online->Check("garbage").reason, kit::kReasonInactive);

  {
    kit::VerifierOptions o = OnlineOptions(*m_);
    o.audience = "other-service";
    EXPECT_EQ(MakeVerifier(o)->Check(cred).reason, kit::kReasonWrongAudience);
    o = OnlineOptions(*m_);
    o.issuer = "https://vault.test/v1/other";
    EXPECT_EQ(MakeVerifier(o)->Check(cred).reason, kit::kReasonWrongIssuer);
    o = OnlineOptions(*m_);
    o.vault_token = "hvs.wrong";
    kit::Verdict denied = MakeVerifier(o)->Check(cred);
    EXPECT_EQ(denied.reason, kit::kReasonIntrospectFailed);
    EXPECT_TRUE(kit::IsOperationalReason(denied.reason));
    EXPECT_NE(denied.detail.find("403"), std::string::npos) << denied.detail;
  }

  // Revoked through the lease: online refuses at once; offline cannot know.
  EXPECT_EQ(m_->Revoke(issued), 204);
  kit::Verdict revoked = online->Check(cred, "s3://backups/db1/4711", "write");
  EXPECT_FALSE(revoked.ok);
  EXPECT_EQ(revoked.reason, kit::kReasonInactive);
  EXPECT_TRUE(offline->Check(cred, "s3://backups/db1/4711", "write").ok) << "offline mode does not see revocation";

  // Released by its holder.
  const std::string released = m_->Credential("backup", {{"snapshot_id", "5"}});
  ASSERT_TRUE(online->Check(released).ok);
  EXPECT_EQ(m_->Call("update", "release", {{"token", released}}).http_status, 204);
  EXPECT_EQ(online->Check(released).reason, kit::kReasonInactive);

  // max_uses 1: the consuming check succeeds once.
  const std::string once = m_->Credential("once", {{"snapshot_id", "6"}});
  kit::Verdict first = online->VerifyOnline(once, true, "s3://backups/db1/6", "write");
  ASSERT_TRUE(first.ok) << first.reason << ": " << first.detail;
  ASSERT_TRUE(first.claims.uses_remaining.has_value());
  EXPECT_EQ(*first.claims.uses_remaining, 0);
  EXPECT_EQ(online->VerifyOnline(once, true, "s3://backups/db1/6", "write").reason, kit::kReasonInactive);

  // Opaque credentials: online only.
  const std::string opaque = m_->Credential("opaque", {{"snapshot_id", "7"}});
  EXPECT_TRUE(online->Check(opaque, "s3://backups/db1/7", "write").ok);
  EXPECT_EQ(offline->Check(opaque).reason, kit::kReasonMalformed);
}

TEST_F(KitOnlineTest, CliIntrospectAgainstAVaultAddress) {
  RequestResult issued = m_->Issue("backup", {{"snapshot_id", "4711"}});
  const std::string cred = issued.data["credential"];
  const std::string addr = m_->front->addr();
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"--introspect", "--vault-addr", addr, "--vault-token", kFrontToken, "--json"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  RunResult r = RunTool(VerifyPath(), args({"--resource", "s3://backups/db1/4711", "--action", "write", cred}));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  json j = CliJson(r);
  EXPECT_EQ(j["reason"], "ok");
  EXPECT_EQ(j["allowed"], true);
  EXPECT_EQ(j["claims"]["task_id"], issued.data["task_id"]);

  r = RunTool(VerifyPath(), args({"--resource", "s3://backups/db1/4712", "--action", "write", cred}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(CliJson(r)["reason"], "not_allowed");

  // VAULT_ADDR / VAULT_TOKEN from the environment, text output.
  r = RunTool(VerifyPath(), {"--introspect", cred}, {{"VAULT_ADDR", addr}, {"VAULT_TOKEN", kFrontToken}});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("valid: task_id="), std::string::npos) << r.out;

  r = RunTool(VerifyPath(), {"--introspect", "--vault-addr", addr, "--vault-token", "hvs.wrong", "--json", cred});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(CliJson(r)["reason"], "introspect_failed");

  EXPECT_EQ(m_->Revoke(issued), 204);
  r = RunTool(VerifyPath(), args({cred}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(CliJson(r)["reason"], "inactive");
  r = RunTool(VerifyPath(), {"--introspect", "--vault-addr", addr, "--vault-token", kFrontToken, cred});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("refused: inactive"), std::string::npos) << r.out;

  // --consume spends the single use.
  const std::string once = m_->Credential("once", {{"snapshot_id", "8"}});
  r = RunTool(VerifyPath(), args({"--consume", once}));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(CliJson(r)["claims"]["uses_remaining"], 0);
  r = RunTool(VerifyPath(), args({"--consume", once}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(CliJson(r)["reason"], "inactive");
}

}  // namespace
}  // namespace taskcred::test
