// The Token Status List through the real plugin binary (design.md,
// "Revocation that offline verifiers see"): the list a credential names is
// served raw and unauthenticated, and read as a resource service would --
// PyJWT verifies it against the JWKS and Python's zlib inflates it -- its
// bits match each way a task ends; a second plugin process on the same
// storage (a performance standby) serves what storage holds once told by
// InvalidateKey.
//
// Needs python3 with PyJWT (python3-jwt); skipped without it unless
// TASKCRED_REQUIRE_PYJWT=1 (CI), which makes that a failure.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "crypto/encoding.h"
#include "crypto/jwt.h"
#include "crypto/random.h"
#include "plugin_fixture.h"
#include "support/run_command.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

class PluginStatusListTest : public PluginSuite {
 protected:
  void SetUp() override {
    for (const char* py : {"/usr/bin/python3", "python3"}) {
      if (std::system((std::string(py) + " -c 'import jwt, cryptography' >/dev/null 2>&1").c_str()) == 0) {
        python_ = py;
        break;
      }
    }
    if (python_.empty()) {
      const char* require = std::getenv("TASKCRED_REQUIRE_PYJWT");
      if (require != nullptr && std::string(require) == "1") FAIL() << "python3 with PyJWT is required";
      GTEST_SKIP() << "python3-jwt not installed";
    }
    dir_ = std::filesystem::temp_directory_path() / ("taskcred-status-" + crypto::NewUuid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // Reads status/<list_id> through `m` and has Python check it against
  // `m`'s JWKS; returns the script's JSON (fails the test when it refuses).
  json ReadAsAResourceService(Mount& m, const std::string& list_id) {
    RequestResult list = CallMount(m, "read", "status/" + list_id, nullptr, "");
    EXPECT_EQ(list.http_status, 200) << list.error;
    EXPECT_EQ(list.data["http_content_type"], "application/statuslist+jwt");
    auto body = crypto::Base64Decode(list.data["http_raw_body"].get<std::string>());
    EXPECT_TRUE(body.ok());
    json jwks = RawBody(CallMount(m, "read", "jwks", nullptr, ""));
    std::ofstream(dir_ / "jwks.json") << jwks.dump();
    std::ofstream(dir_ / "list.jwt") << *body;
    CommandRun r = RunCommand(python_ + " " TASKCRED_STATUS_LIST_SCRIPT " " + (dir_ / "jwks.json").string() +
                              " " + (dir_ / "list.jwt").string() + " 2>&1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    json out = json::parse(r.output, nullptr, false);
    EXPECT_FALSE(out.is_discarded()) << r.output;
    return out;
  }

  std::string python_;
  std::filesystem::path dir_;
};

struct Ref {
  std::string list_id;
  int64_t idx = 0;
};

Ref StatusOf(const RequestResult& issued) {
  auto jwt = crypto::DecodeJwt(issued.data["credential"].get<std::string>());
  EXPECT_TRUE(jwt.ok());
  const json& sl = jwt->claims["status"]["status_list"];
  const std::string uri = sl["uri"];
  return {uri.substr(uri.rfind('/') + 1), sl["idx"].get<int64_t>()};
}

TEST_F(PluginStatusListTest, AResourceServiceSeesEveryWayATaskEnds) {
  Ok("update", "config", {{"issuer", "https://vault.example/v1/taskcred"}, {"signing_algorithm", "ES256"}});
  Ok("create", "roles/sl-job", {{"task", "job"}, {"grants", "read kv://db1/user"}, {"ttl", "10m"}});
  Ok("create", "roles/sl-once", {{"task", "job"}, {"grants", "read kv://db1/user"}, {"ttl", "10m"},
                                 {"max_uses", 1}});
  Ok("create", "roles/sl-short", {{"task", "job"}, {"grants", "read kv://db1/user"}, {"ttl", "2s"}});
  RequestResult revoked = Issue("creds/sl-job");
  RequestResult released = Issue("creds/sl-job");
  RequestResult spent = Issue("creds/sl-once");
  RequestResult expired = Issue("creds/sl-short");
  RequestResult live = Issue("creds/sl-job");
  RequestResult live_once = Issue("creds/sl-once");
  ASSERT_EQ(SecretOp("revoke", revoked).http_status, 204);
  Ok("update", "release", {{"token", released.data["credential"]}});
  EXPECT_EQ(Ok("update", "introspect", {{"token", spent.data["credential"]}, {"consume", true}})["active"], true);
  EXPECT_EQ(Ok("update", "introspect", {{"token", live_once.data["credential"]}})["active"], true);  // no use
  // Vault revokes a lease when it expires.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  ASSERT_EQ(SecretOp("revoke", expired).http_status, 204);

  // All in one list here (same horizon hour) unless an hour boundary fell
  // between the issuances; check each list the credentials name.
  std::map<std::string, std::set<int64_t>> want_set, want_clear;
  for (const RequestResult* r : {&revoked, &released, &spent, &expired}) {
    Ref ref = StatusOf(*r);
    want_set[ref.list_id].insert(ref.idx);
    want_clear[ref.list_id];
  }
  for (const RequestResult* r : {&live, &live_once}) {
    Ref ref = StatusOf(*r);
    want_clear[ref.list_id].insert(ref.idx);
    want_set[ref.list_id];
  }
  for (const auto& [list_id, clear] : want_clear) {
    SCOPED_TRACE(list_id);
    json out = ReadAsAResourceService(mount(), list_id);
    EXPECT_EQ(out["header"]["typ"], "statuslist+jwt");
    EXPECT_EQ(out["claims"]["sub"], "https://vault.example/v1/taskcred/status/" + list_id);
    EXPECT_EQ(out["claims"]["ttl"], 60);
    EXPECT_EQ(out["size"], 65536 / 8);
    std::set<int64_t> set = out["set"].get<std::set<int64_t>>();
    EXPECT_EQ(set, want_set[list_id]);
    for (int64_t idx : clear) EXPECT_FALSE(set.contains(idx));
  }
  EXPECT_THAT(Ok("list", "status/")["keys"].get<std::vector<std::string>>(),
              ::testing::IsSupersetOf(std::vector<std::string>{want_clear.begin()->first}));
}

TEST_F(PluginStatusListTest, AStandbyServesTheBitAfterInvalidateKey) {
  // The standby is a second plugin process (another node) on the active
  // node's storage, as a performance standby is.
  SharedMounts mounts = MountsOnOneStorage();
  ASSERT_NE(mounts.active, nullptr);
  Mount& active = *mounts.active;
  OtherPlugin second = StartOnStorage(mounts.storage);
  ASSERT_NE(second.mount, nullptr);
  Mount& standby = *second.mount;
  ASSERT_EQ(CallMount(active, "create", "roles/sb", {{"task", "t"}, {"grants", "read kv://a/b"}, {"ttl", "10m"}}, "")
                .http_status,
            204);
  RequestResult issued = CallMount(active, "read", "creds/sb", nullptr, "");
  ASSERT_EQ(issued.http_status, 200) << issued.error;
  RecordSecret(issued.data["credential"]);
  Ref ref = StatusOf(issued);
  EXPECT_THAT(ReadAsAResourceService(standby, ref.list_id)["set"], ::testing::IsEmpty());

  RequestSpec revoke = LeaseRequest("revoke", issued);
  ASSERT_EQ(active.HandleRequest(revoke).http_status, 204);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // lists are re-signed at most once a second
  const std::string page = "status/" + ref.list_id + "/bits/" + std::to_string(ref.idx / 8192);
  ASSERT_TRUE(mounts.storage->Get(page).has_value()) << "the revocation wrote " << page;
  EXPECT_THAT(ReadAsAResourceService(standby, ref.list_id)["set"], ::testing::IsEmpty())
      << "the standby's cached page, until it is told";
  ASSERT_TRUE(standby.InvalidateKey(page).ok());
  EXPECT_EQ(ReadAsAResourceService(standby, ref.list_id)["set"], json::array({ref.idx}));
  active.Cleanup();
  standby.Cleanup();
  (void)second.host->Shutdown();
}

}  // namespace
}  // namespace taskcred::test
