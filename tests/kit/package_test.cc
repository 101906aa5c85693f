// The installed kit: `cmake --install <build> --component taskcred_kit`
// into a temporary prefix, then a consumer project (tests/kit/consumer, the
// library example of docs/kit.md) configured with find_package(TaskcredVerify),
// built, and run against credentials signed in-test.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/signing_key.h"
#include "kit/kit_test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kIssuer[] = "https://vault.example.com/v1/taskcred";
constexpr char kAudience[] = "backup-service";

int64_t Now() { return UnixNow(); }

TEST(KitPackageTest, InstalledPackageBuildsAConsumerThatEnforces) {
  TempDir dir;
  const std::string prefix = dir.path() + "/prefix";
  const std::string build = dir.path() + "/build";
  RunResult r = RunTool(TASKCRED_CMAKE, {"--install", TASKCRED_BUILD_DIR, "--component", "taskcred_kit", "--prefix",
                                         prefix}, {}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* f : {"include/taskcred/kit/verifier.h", "include/taskcred/grants/grant.h",
                        "include/taskcred/common/status.h", "lib/libtaskcred_verify.a", "bin/taskcred-verify",
                        "lib/cmake/TaskcredVerify/TaskcredVerifyConfig.cmake",
                        "lib/cmake/TaskcredVerify/TaskcredVerifyConfigVersion.cmake"}) {
    EXPECT_TRUE(std::filesystem::exists(prefix + "/" + f)) << f << " not installed";
  }

  r = RunTool(TASKCRED_CMAKE, {"-S", TASKCRED_CONSUMER_DIR, "-B", build, "-DCMAKE_PREFIX_PATH=" + prefix,
                               "-DCMAKE_CXX_COMPILER=" TASKCRED_CXX_COMPILER,
                               "-DCMAKE_CXX_FLAGS=" TASKCRED_CONSUMER_FLAGS},
              {}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = RunTool(TASKCRED_CMAKE, {"--build", build}, {}, 180s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string consumer = build + "/check_credential";

  auto key = crypto::SigningKey::Generate(crypto::Algorithm::kES256);
  ASSERT_TRUE(key.ok());
  const std::string jwks = dir.Write("jwks.json", Jwks({{&*key, "k1"}}).dump());
  const std::string token =
      Mint(*key, "k1",
           {{"iss", kIssuer}, {"sub", "entity-1"}, {"aud", {kAudience}}, {"iat", Now()}, {"nbf", Now()},
            {"exp", Now() + 300}, {"jti", "task-pkg"}, {"task", "nightly-backup"}, {"role", "backup"},
            {"grants", json::array({{{"resource", "s3://backups/db1/4711"}, {"actions", {"write"}}}})}});
  std::string tampered = token;
  tampered[tampered.find('.') + 5] ^= 1;

  struct Case {
    std::string name, token, resource, action;
    int exit_code;
    std::string out;
  };
  for (const Case& tc : std::vector<Case>{
           {"allowed", token, "s3://backups/db1/4711", "write", 0, "allowed task_id=task-pkg role=backup"},
           {"not_allowed", token, "s3://backups/db1/4712", "write", 1, "refused not_allowed"},
           {"tampered", tampered, "s3://backups/db1/4711", "write", 1, "refused "}}) {
    SCOPED_TRACE(tc.name);
    RunResult c = RunWithStdin(consumer, {jwks, kIssuer, kAudience, tc.resource, tc.action}, tc.token + "\n");
    EXPECT_EQ(c.exit_code, tc.exit_code) << c.out << c.err;
    EXPECT_NE(c.out.find(tc.out), std::string::npos) << c.out;
  }
  // The installed CLI runs from the prefix.
  r = RunTool(prefix + "/bin/taskcred-verify",
              {"--jwks", jwks, "--issuer", kIssuer, "--audience", kAudience, "--resource", "s3://backups/db1/4711",
               "--action", "write", token});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace taskcred::test
