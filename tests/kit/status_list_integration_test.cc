// The kit's Token Status List checks against the REAL plugin: a mount whose
// issuer is its VaultFront's URL serves status/<list_id> over loopback HTTP
// as Vault would; the Verifier library and taskcred-verify fetch it from
// there. Each way a task ends (revoke, release, the last use) is refused
// offline as "revoked" within status_list_ttl + one fetch; a list on disk
// (--status-list) and --no-status-list behave as documented.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/encoding.h"
#include "kit/http_client.h"
#include "kit/kit_test_util.h"
#include "kit_mount.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class KitStatusListIntegrationTest : public PluginSuite {
 protected:
  void SetUp() override {
    m_ = NewMount({});
    ASSERT_NE(m_, nullptr);
    issuer_ = m_->front->addr() + "/v1/taskcred";
    m_->Ok("update", "config", {{"issuer", issuer_}, {"status_list", true}, {"status_list_ttl", 1}});
    m_->Ok("update", "roles/backup", BackupRoleFor());
    m_->Ok("update", "roles/once", BackupRoleFor({{"max_uses", 1}}));
  }
  kit::VerifierOptions Options() {
    kit::VerifierOptions o = OfflineOptions(*m_);
    o.issuer = issuer_;
    return o;
  }
  // Checks `cred` until it is refused as revoked, at most `limit`; returns
  // how long that took (or limit + 1s when it never was).
  std::chrono::milliseconds UntilRevoked(kit::Verifier& v, const std::string& cred, std::chrono::milliseconds limit) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start <= limit) {
      kit::Verdict verdict = v.VerifyOffline(cred);
      if (verdict.reason == "revoked") {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
      }
      EXPECT_EQ(verdict.reason, "ok") << verdict.detail;
      std::this_thread::sleep_for(50ms);
    }
    return limit + 1s;
  }

  std::unique_ptr<KitMount> m_;
  std::string issuer_;
};

TEST_F(KitStatusListIntegrationTest, EveryWayATaskEndsIsRefusedOfflineWithinTtlAndOneFetch) {
  const json params = {{"snapshot_id", "4711"}};
  RequestResult revoked = m_->Issue("backup", params);
  RequestResult released = m_->Issue("backup", params);
  RequestResult spent = m_->Issue("once", params);
  RequestResult live = m_->Issue("backup", params);
  auto v = MakeVerifier(Options());
  ASSERT_NE(v, nullptr);
  for (const RequestResult* r : {&revoked, &released, &spent, &live}) {
    kit::Verdict verdict = v->VerifyOffline(r->data["credential"].get<std::string>());
    EXPECT_EQ(verdict.reason, "ok") << verdict.detail;
  }
  const int fetches = v->status_fetch_count();
  EXPECT_EQ(fetches, 1) << "one list for the four credentials, cached";

  // ttl 1 s, the issuer re-signs at most once a second, and one fetch: a
  // verifier refuses within about 2 s (3 s allowed for a loaded machine).
  ASSERT_EQ(m_->Revoke(revoked), 204);
  EXPECT_LE(UntilRevoked(*v, revoked.data["credential"], 3s), 3s);
  m_->Ok("update", "release", {{"token", released.data["credential"]}});
  EXPECT_LE(UntilRevoked(*v, released.data["credential"], 3s), 3s);
  EXPECT_EQ(m_->Ok("update", "introspect", {{"token", spent.data["credential"]}, {"consume", true}})["active"], true);
  EXPECT_LE(UntilRevoked(*v, spent.data["credential"], 3s), 3s);
  kit::Verdict still = v->VerifyOffline(live.data["credential"].get<std::string>());
  EXPECT_EQ(still.reason, "ok") << still.detail;
  EXPECT_GT(v->status_fetch_count(), fetches);
}

TEST_F(KitStatusListIntegrationTest, TheCliFetchesReadsAFileOrIsToldNotTo) {
  RequestResult revoked = m_->Issue("backup", {{"snapshot_id", "1"}});
  RequestResult live = m_->Issue("backup", {{"snapshot_id", "2"}});
  ASSERT_EQ(m_->Revoke(revoked), 204);
  std::this_thread::sleep_for(1100ms);  // past the once-a-second re-signing
  const std::string cred = revoked.data["credential"];
  const std::vector<std::string> base = {"--jwks", m_->front->jwks_url(), "--issuer", issuer_,
                                         "--audience", kAudience, "--json"};
  auto run = [&](std::vector<std::string> extra, const std::string& token) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(token);
    RunResult r = RunTool(VerifyPath(), args);
    json j = json::parse(r.out, nullptr, false);
    return std::make_pair(r.exit_code, j.is_object() ? j.value("reason", "") : r.out + r.err);
  };
  EXPECT_EQ(run({}, cred), std::make_pair(1, std::string("revoked")));
  EXPECT_EQ(run({}, live.data["credential"]), std::make_pair(0, std::string("ok")));
  EXPECT_EQ(run({"--no-status-list"}, cred), std::make_pair(0, std::string("ok")));

  // The list on disk, as an air-gapped verifier would hold it.
  std::string token_uri;
  {
    auto parts = cred.substr(cred.find('.') + 1);
    parts = parts.substr(0, parts.find('.'));
    json claims = json::parse(*crypto::Base64UrlDecode(parts));
    token_uri = claims["status"]["status_list"]["uri"];
  }
  auto list = kit::HttpCall("GET", token_uri, {}, "", {});
  ASSERT_TRUE(list.ok() && list->status == 200);
  EXPECT_EQ(list->content_type, "application/statuslist+jwt");
  TempDir dir;
  const std::string file = dir.Write("list.jwt", list->body);
  EXPECT_EQ(run({"--status-list", file}, cred), std::make_pair(1, std::string("revoked")));
  EXPECT_EQ(run({"--status-list", file}, live.data["credential"]), std::make_pair(0, std::string("ok")));
  RunResult both = RunTool(VerifyPath(), {"--jwks", m_->front->jwks_url(), "--issuer", issuer_, "--audience",
                                          kAudience, "--status-list", file, "--no-status-list", cred});
  EXPECT_EQ(both.exit_code, 2) << both.out << both.err;
}

}  // namespace
}  // namespace taskcred::test
