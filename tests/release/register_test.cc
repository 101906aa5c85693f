// scripts/register.sh against a stand-in for the vault/bao CLI
// (fake_vault.py keeps a server's state in a JSON file and checks what a
// server checks), then the registered file itself launched by the host
// harness: what the catalog points at is a plugin that serves.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/hash.h"
#include "harness/plugin_host.h"
#include "support/run_command.h"

namespace taskcred::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Lowercase hex SHA-256 of a file's bytes, as sha256sum prints it.
std::string FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return crypto::Sha256Hex(std::string((std::istreambuf_iterator<char>(in)), {}));
}

class RegisterScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tc-register-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    fs::create_directories(plugins());
    fs::create_directories(base_ + "/bin");
    fs::create_symlink(TASKCRED_FAKE_VAULT, base_ + "/bin/vault");
    fs::create_symlink(TASKCRED_FAKE_VAULT, base_ + "/bin/bao");
    SetState({{"version", "1.15.2"}, {"caps", "root"}});
  }
  void TearDown() override { fs::remove_all(base_); }

  std::string plugins() const { return base_ + "/plugins"; }
  json State() const {
    std::ifstream in(base_ + "/state.json");
    return json::parse(in);
  }
  void SetState(const json& s) const { std::ofstream(base_ + "/state.json") << s.dump(); }
  void Patch(const json& patch) const {
    json s = State();
    s.merge_patch(patch);
    SetState(s);
  }

  CommandRun Register(const std::string& args) const {
    std::string cmd = "env FAKE_VAULT_STATE=" + base_ + "/state.json FAKE_VAULT_PLUGIN_DIR=" + plugins() +
                      " VAULT_BIN= PATH=" + base_ + "/bin:/usr/bin:/bin bash " TASKCRED_REGISTER_SCRIPT " " + args +
                      " 2>&1";
    return RunCommand(cmd);
  }
  std::string Defaults() const { return "--plugin-dir " + plugins() + " --binary " + TaskcredPluginPath(); }

  // A second build: a wrapper that says it is v0.2.0 and runs the plugin.
  std::string NextVersion() const {
    std::string path = base_ + "/taskcred-next";
    std::ofstream(path) << "#!/bin/sh\n"
                        << "if [ \"$1\" = --version ]; then echo 'taskcred v0.2.0'; exit 0; fi\n"
                        << "exec " << TaskcredPluginPath() << " \"$@\"\n";
    fs::permissions(path, fs::perms::owner_all);
    return path;
  }

  // Calls that change the server, from the recorded calls.
  int ChangingCalls() const {
    int n = 0;
    const json state = State();  // kept: the loop's range refers into it
    for (const auto& c : state["calls"]) {
      std::string first = c[0], second = c.size() > 1 ? c[1].get<std::string>() : "";
      if ((first == "plugin" && (second == "register" || second == "reload")) ||
          (first == "secrets" && (second == "enable" || second == "tune"))) {
        ++n;
      }
    }
    return n;
  }

  std::string base_;
};

TEST_F(RegisterScriptTest, RegistersAndMountsAndTheRegisteredFileServes) {
  CommandRun r = Register(Defaults() + " --mount taskcred");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json s = State();
  json entry = s["catalog"]["taskcred"]["v0.1.0"];
  ASSERT_TRUE(entry.is_object()) << s.dump();
  EXPECT_EQ(entry["command"], "taskcred-v0.1.0");
  const std::string registered = plugins() + "/taskcred-v0.1.0";
  EXPECT_EQ(entry["sha256"], FileSha256(registered));
  EXPECT_EQ(entry["sha256"], FileSha256(TaskcredPluginPath()));
  EXPECT_EQ(s["mounts"]["taskcred/"]["plugin_version"], "v0.1.0");

  HostOptions options;
  options.binary = registered;
  auto host = PluginHost::Start(options);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  auto mount = (*host)->Setup();
  ASSERT_TRUE(mount.ok() && (*mount)->setup().ok()) << (mount.ok() ? "" : mount.status().ToString());
  EXPECT_EQ((*mount)->HandleRequest(MakeRequest("read", "jwks")).http_status, 200);
}

TEST_F(RegisterScriptTest, RunningItAgainChangesNothing) {
  ASSERT_EQ(Register(Defaults() + " --mount taskcred").exit_code, 0);
  const int before = ChangingCalls();
  EXPECT_EQ(before, 2);  // register, enable
  CommandRun again = Register(Defaults() + " --mount taskcred");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(ChangingCalls(), before) << again.output;
  EXPECT_NE(again.output.find("already"), std::string::npos) << again.output;
}

TEST_F(RegisterScriptTest, VaultBefore112GetsNoVersionFlags) {
  Patch({{"version", "1.8.7"}});
  CommandRun r = Register(Defaults() + " --mount taskcred");
  ASSERT_EQ(r.exit_code, 0) << r.output;  // the fake refuses -version before 1.12
  json s = State();
  EXPECT_EQ(s["catalog"]["taskcred"][""]["command"], "taskcred");
  EXPECT_TRUE(fs::exists(plugins() + "/taskcred"));
  EXPECT_EQ(s["mounts"]["taskcred/"]["type"], "taskcred");
}

TEST_F(RegisterScriptTest, UpgradeMovesTheMountAndRollbackMovesItBack) {
  ASSERT_EQ(Register(Defaults() + " --mount taskcred").exit_code, 0);
  CommandRun up = Register("--plugin-dir " + plugins() + " --binary " + NextVersion() + " --mount taskcred");
  ASSERT_EQ(up.exit_code, 0) << up.output;
  json s = State();
  EXPECT_EQ(s["mounts"]["taskcred/"]["running_plugin_version"], "v0.2.0") << s.dump();
  EXPECT_EQ(s["reloads"], json::array({"taskcred/"}));
  EXPECT_TRUE(fs::exists(plugins() + "/taskcred-v0.1.0"));  // kept for a rollback
  EXPECT_TRUE(fs::exists(plugins() + "/taskcred-v0.2.0"));

  CommandRun back = Register(Defaults() + " --mount taskcred");
  ASSERT_EQ(back.exit_code, 0) << back.output;
  s = State();
  EXPECT_EQ(s["mounts"]["taskcred/"]["running_plugin_version"], "v0.1.0");
  EXPECT_EQ(s["mounts"]["taskcred/"]["running_sha256"], FileSha256(TaskcredPluginPath()));
  EXPECT_EQ(s["reloads"].size(), 2u);
}

TEST_F(RegisterScriptTest, UnreachableServerIsAClearErrorAndCopiesNothing) {
  Patch({{"down", true}});
  CommandRun r = Register(Defaults());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("cannot reach the server"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_empty(plugins()));
}

TEST_F(RegisterScriptTest, TokenWithoutSudoIsRefusedBeforeAnythingIsCopied) {
  Patch({{"caps", "create, read, update"}});
  CommandRun r = Register(Defaults());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("may not register plugins"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("needs sudo"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_empty(plugins()));
}

TEST_F(RegisterScriptTest, SealedServerIsRefused) {
  Patch({{"sealed", true}});
  CommandRun r = Register(Defaults());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("sealed"), std::string::npos) << r.output;
}

TEST_F(RegisterScriptTest, ServerVersionThatIsNotSemverIsAClearError) {
  Patch({{"version", "dev"}});
  CommandRun r = Register(Defaults());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("reports version 'dev'"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_empty(plugins()));
}

TEST_F(RegisterScriptTest, MountOfAnotherTypeIsLeftAlone) {
  Patch({{"mounts", {{"taskcred/", {{"type", "kv"}, {"plugin_version", ""}, {"running_plugin_version", ""}}}}}});
  CommandRun r = Register(Defaults() + " --mount taskcred");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("already a mount of type kv"), std::string::npos) << r.output;
  EXPECT_EQ(State()["mounts"]["taskcred/"]["type"], "kv");
}

TEST_F(RegisterScriptTest, OpenBaoCliRegistersVersions) {
  Patch({{"version", "2.1.0"}});
  CommandRun r = Register(Defaults() + " --bao --mount taskcred");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json s = State();
  EXPECT_TRUE(s["catalog"]["taskcred"].contains("v0.1.0")) << s.dump();
  EXPECT_EQ(s["mounts"]["taskcred/"]["plugin_version"], "v0.1.0");
}

TEST_F(RegisterScriptTest, ArgumentsArePassedToTheCatalog) {
  CommandRun r = Register(Defaults() + " --args -event-loops=2 --env TASKCRED_X=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json entry = State()["catalog"]["taskcred"]["v0.1.0"];
  EXPECT_EQ(entry["args"], json::array({"-event-loops=2"}));
  EXPECT_EQ(entry["env"], json::array({"TASKCRED_X=1"}));
}

}  // namespace
}  // namespace taskcred::test
