// Terraform no-drift: examples/terraform/main.tf writes config.json and
// role-backup-job.json through vault_generic_endpoint (ignore_absent_fields);
// every key written must read back with an identical JSON value, and a second
// apply of the same data must change nothing in storage.
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json ReadJsonFile(const std::string& name) {
  std::string text = ReadText(std::string(TASKCRED_TERRAFORM_DIR) + "/" + name);
  json j = json::parse(text, nullptr, false);
  EXPECT_FALSE(j.is_discarded() || !j.is_object()) << name << " is not a JSON object";
  return j;
}

class PluginTerraformTest : public PluginSuite {};

TEST_F(PluginTerraformTest, MainTfReadsTheJsonFiles) {
  std::string tf = ReadText(std::string(TASKCRED_TERRAFORM_DIR) + "/main.tf");
  EXPECT_THAT(tf, ::testing::HasSubstr("data_json            = file(\"${path.module}/config.json\")"));
  EXPECT_THAT(tf, ::testing::HasSubstr("data_json            = file(\"${path.module}/role-backup-job.json\")"));
  EXPECT_THAT(tf, ::testing::HasSubstr("path                 = \"${vault_mount.taskcred.path}/config\""));
  EXPECT_THAT(tf, ::testing::HasSubstr("\"${vault_mount.taskcred.path}/roles/backup-job\""));
}

TEST_F(PluginTerraformTest, EveryWrittenKeyReadsBackIdenticallyAndReapplyIsANoOp) {
  struct Resource {
    std::string path;
    json data;
  };
  const std::vector<Resource> resources = {{"config", ReadJsonFile("config.json")},
                                           {"roles/backup-job", ReadJsonFile("role-backup-job.json")}};
  // terraform apply: config first (the role depends on it), create then read back.
  for (const auto& res : resources) {
    RequestResult w = Call("create", res.path, res.data);
    ASSERT_TRUE(w.http_status == 204 || w.http_status == 200) << res.path << ": " << w.error;
    EXPECT_TRUE(w.reply.response().warnings().empty()) << res.path << ": a field was ignored";
  }
  auto read_back_matches = [&] {
    for (const auto& res : resources) {
      json got = Ok("read", res.path);
      for (const auto& [key, value] : res.data.items()) {
        ASSERT_TRUE(got.contains(key)) << res.path << "." << key << " is not read back (drift)";
        EXPECT_EQ(got[key], value) << res.path << "." << key << " drifts: wrote " << value.dump() << ", read "
                                   << got[key].dump();
      }
    }
  };
  read_back_matches();
  StorageImage after_first = Image();

  // terraform apply again (e.g. after a refresh): update with the same data.
  for (const auto& res : resources) {
    RequestResult w = Call("update", res.path, res.data);
    ASSERT_TRUE(w.http_status == 204 || w.http_status == 200) << res.path << ": " << w.error;
  }
  StorageImage after_second = Image();
  EXPECT_EQ(after_second.size(), after_first.size());
  for (const auto& [k, v] : after_first) {
    auto it = after_second.find(k);
    ASSERT_NE(it, after_second.end()) << k << " disappeared";
    EXPECT_EQ(it->second, v) << "re-applying the same data changed " << k;
  }
  read_back_matches();

  // The role issues what the example promises.
  RequestResult issued = Issue("creds/backup-job", {{"snapshot_id", "4711"}});
  EXPECT_EQ(issued.data["audience"], json({"backup-service"}));
}

}  // namespace
}  // namespace taskcred::test
