// Identity placeholders through the host's SystemView (EntityInfo): entity
// name/metadata and alias metadata of a given mount accessor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/jwt.h"
#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

constexpr char kAccessor[] = "auth_jwt_1a2b3c";

class PluginIdentityTest : public PluginSuite {
 protected:
  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    SystemViewConfig sv = mount().system_view().Get();
    ::logical::Entity e;
    e.set_id("ent-ci");
    e.set_name("ci-robot");
    (*e.mutable_metadata())["team"] = "payments";
    ::logical::Alias* other = e.add_aliases();
    other->set_mount_accessor("auth_userpass_9");
    (*other->mutable_metadata())["repository"] = "wrong-repo";
    ::logical::Alias* alias = e.add_aliases();
    alias->set_mount_type("jwt");
    alias->set_mount_accessor(kAccessor);
    alias->set_name("repo:acme/api");
    (*alias->mutable_metadata())["repository"] = "api";
    (*alias->mutable_metadata())["run_id"] = "9001";
    (*alias->mutable_metadata())["ref"] = "refs/heads/main";
    sv.entities["ent-ci"] = e;
    ::logical::Entity bare;
    bare.set_id("ent-bare");
    bare.set_name("bare");
    sv.entities["ent-bare"] = bare;
    mount().system_view().Set(sv);
    std::string alias_meta = std::string("{{identity.entity.aliases.") + kAccessor + ".metadata.";
    Ok("create", "roles/ci",
       {{"task", "ci-deploy"},
        {"grants", json::array({"write git://github.com/acme/" + alias_meta + "repository}}",
                                "write ci://runs/" + alias_meta + "run_id}}/{{task_id}}",
                                "read kv://teams/{{identity.entity.metadata.team}}/{{identity.entity.name}}",
                                "read kv://users/{{identity.entity.id}}"})}});
    Ok("create", "roles/ref", {{"task", "t"}, {"grants", "read git://x/" + alias_meta + "ref}}"}});
  }
};

TEST_F(PluginIdentityTest, EntityAndAliasMetadataAreRendered) {
  RequestResult r = Issue("creds/ci", nullptr, "ent-ci");
  ASSERT_EQ(r.http_status, 200) << r.error;
  std::string task_id = r.data["task_id"];
  EXPECT_EQ(r.data["grants"], (json{{{"resource", "git://github.com/acme/api"}, {"actions", {"write"}}},
                                    {{"resource", "ci://runs/9001/" + task_id}, {"actions", {"write"}}},
                                    {{"resource", "kv://teams/payments/ci-robot"}, {"actions", {"read"}}},
                                    {{"resource", "kv://users/ent-ci"}, {"actions", {"read"}}}}));
  auto jwt = crypto::DecodeJwt(r.data["credential"].get<std::string>());
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["grants"], r.data["grants"]);
  EXPECT_EQ(jwt->claims["sub"], "ent-ci");
  EXPECT_GT(mount().system_view().calls(), 0);
}

TEST_F(PluginIdentityTest, MissingValuesAreA400AndWriteNothing) {
  StorageImage before = Image();
  // No alias for the accessor, no metadata.
  EXPECT_TRUE(IsBadRequestNaming(Call("read", "creds/ci", nullptr, "ent-bare"), "identity.entity.aliases."));
  // No entity at all.
  EXPECT_TRUE(IsBadRequestNaming(Call("read", "creds/ci", nullptr, ""), "identity.entity"));
  // An identity value with '/' could widen the grant.
  EXPECT_TRUE(IsBadRequestNaming(Call("read", "creds/ref", nullptr, "ent-ci"), "ref"));
  EXPECT_EQ(Image(), before);
}

TEST_F(PluginIdentityTest, PreviewRendersTheSameGrants) {
  json p = Ok("update", "roles/ci/preview", json::object(), "ent-ci");
  EXPECT_EQ(p["grants"][0]["resource"], "git://github.com/acme/api");
  EXPECT_EQ(p["grants"][2]["resource"], "kv://teams/payments/ci-robot");
}

}  // namespace
}  // namespace taskcred::test
