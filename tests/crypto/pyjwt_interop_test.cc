// Cross-checks our JWTs against an independent implementation: Debian's
// python3-jwt (PyJWT) on top of python3-cryptography. Tokens we sign must
// verify there (with the JWK we publish), and tokens PyJWT signs must verify
// here (with the JWK PyJWT exports).
//
// Skipped only when no python3 with `jwt` and `cryptography` is found; set
// TASKCRED_REQUIRE_PYJWT=1 (CI does) to make that a failure instead.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "crypto/jwt.h"
#include "crypto/random.h"
#include "support/run_command.h"
#include "test_keys.h"

namespace taskcred::crypto {
namespace {

using nlohmann::json;

// The first python3 that can import PyJWT and cryptography; Debian's first.
std::optional<std::string> FindPython() {
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    std::string cmd = std::string(py) + " -c 'import jwt, cryptography' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return std::string(py);
  }
  return std::nullopt;
}

class CryptoPyJwtInterop : public ::testing::TestWithParam<Algorithm> {
 protected:
  void SetUp() override {
    python_ = FindPython();
    if (!python_) {
      const char* require = std::getenv("TASKCRED_REQUIRE_PYJWT");
      if (require != nullptr && std::string(require) == "1") {
        FAIL() << "python3 with jwt and cryptography is required (TASKCRED_REQUIRE_PYJWT=1)";
      }
      GTEST_SKIP() << "python3-jwt / python3-cryptography not installed";
    }
    dir_ = std::filesystem::temp_directory_path() / ("taskcred-pyjwt-" + NewUuid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    auto path = dir_ / name;
    std::ofstream(path) << content;
    return path.string();
  }

  // Runs PyJWT's verify on (jwk, token); returns the result.
  test::CommandRun PyVerify(const json& jwk, const std::string& token, std::string_view alg) {
    std::string jwk_file = WriteFile("jwk.json", jwk.dump());
    std::string token_file = WriteFile("token.txt", token);
    return test::RunCommand(*python_ + " " TASKCRED_PYJWT_SCRIPT " verify " + jwk_file + " " + token_file + " " +
               std::string(alg) + " 2>&1");
  }

  std::optional<std::string> python_;
  std::filesystem::path dir_;
};

TEST_P(CryptoPyJwtInterop, PyJwtVerifiesOurTokens) {
  auto key = SigningKey::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  const json claims = {{"iss", "https://vault.example/v1/taskcred"},
                       {"sub", "entity-1"},
                       {"jti", "t-1"},
                       {"exp", 4000000000},
                       {"grants", json::array({{{"resource", "s3://b/x"}, {"actions", {"read"}}}})}};
  auto token = SignJwt(*key, "kid-1", claims);
  ASSERT_TRUE(token.ok());
  json jwk = key->PublicJwk("kid-1");

  test::CommandRun r = PyVerify(jwk, *token, AlgorithmName(GetParam()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json out = json::parse(r.output, nullptr, false);
  ASSERT_FALSE(out.is_discarded()) << r.output;
  EXPECT_EQ(out["claims"], claims);
  EXPECT_EQ(out["header"]["kid"], "kid-1");
  EXPECT_EQ(out["header"]["alg"], AlgorithmName(GetParam()));

  // The same checker refuses a token signed by another key: the test can fail.
  auto other = SigningKey::Generate(GetParam());
  ASSERT_TRUE(other.ok());
  auto forged = SignJwt(*other, "kid-1", claims);
  ASSERT_TRUE(forged.ok());
  test::CommandRun refused = PyVerify(jwk, *forged, AlgorithmName(GetParam()));
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
}

TEST_P(CryptoPyJwtInterop, WeVerifyPyJwtTokens) {
  test::CommandRun r = test::RunCommand(*python_ + " " TASKCRED_PYJWT_SCRIPT " sign " + std::string(AlgorithmName(GetParam())) +
                        " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json out = json::parse(r.output, nullptr, false);
  ASSERT_TRUE(out.is_object()) << r.output;
  json jwk = out["jwk"];
  auto pub = PublicKey::FromJwk(jwk);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString() << " " << jwk.dump();
  EXPECT_EQ(pub->algorithm(), GetParam());
  auto jwt = DecodeAndVerifyJwt(out["token"].get<std::string>(), json{{"keys", {jwk}}});
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  EXPECT_EQ(jwt->claims, (json{{"sub", "python"}, {"n", 7}}));
}

INSTANTIATE_TEST_SUITE_P(All, CryptoPyJwtInterop,
                         ::testing::Values(Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kRS256),
                         [](const auto& p) { return std::string(AlgorithmName(p.param)); });

}  // namespace
}  // namespace taskcred::crypto
