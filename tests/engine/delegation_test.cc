// Delegation through the engine (design.md, "Delegation"): delegate and
// delegate/preview, the bounds a child must stay within, the act chain, and
// the cascade when a parent ends (introspection at once, status list bits).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/jwt.h"
#include "dpop/proof_maker.h"
#include "status_list_util.h"
#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

const json kInactive = {{"active", false}};

std::string Str(const json& j) { return j.get<std::string>(); }

json ClaimsOf(const json& data) {
  auto jwt = crypto::DecodeJwt(Str(data["credential"]));
  EXPECT_TRUE(jwt.ok());
  return jwt.ok() ? jwt->claims : json::object();
}

class DelegationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.Write("config", {{"issuer", "https://vault.example/v1/taskcred/"}}).ok());
    json role = {{"task", "ci-pipeline"},
                 {"grants", {"read,write s3://art/builds/**", "read kv://ci/common"}},
                 {"audience", {"store", "kv"}},
                 {"ttl", 600},
                 {"max_delegation_depth", 2}};
    ASSERT_TRUE(h_.Write("roles/pipeline", role).ok());
    role["max_uses"] = 3;
    role["max_delegation_depth"] = 1;
    ASSERT_TRUE(h_.Write("roles/counted", role).ok());
    role.erase("max_uses");
    role["max_delegation_depth"] = 0;
    ASSERT_TRUE(h_.Write("roles/flat", role).ok());
    role["max_delegation_depth"] = 2;
    role["credential_type"] = "opaque";
    ASSERT_TRUE(h_.Write("roles/opaque", role).ok());
  }

  // delegate with `body` (token merged in); the full response or a failure.
  logical::HandlerResult Delegate(const std::string& token, json body = json::object()) {
    body["token"] = token;
    return h_.Write("delegate", body);
  }
  logical::Response Child(const std::string& token, json body = json::object()) {
    auto r = Delegate(token, std::move(body));
    if (!r.ok() || !r->has_value()) {
      ADD_FAILURE() << "delegate: " << r.status().ToString();
      return {};
    }
    return **r;
  }
  json Task(const json& data) { return DataOf(h_.Read("tasks/" + Str(data["task_id"]))); }

  EngineHarness h_;
};

TEST_F(DelegationTest, AChildIsItsOwnTaskWithItsOwnLeaseNarrowerAndNamingItsParent) {
  logical::Response parent = Issue(h_, "creds/pipeline/run-7");
  const std::string parent_cred = Str(parent.data["credential"]);
  h_.Advance(100);
  logical::Response child =
      Child(parent_cred, {{"grants", {"read s3://art/builds/step1/*"}}, {"ttl", 120}, {"audience", {"store"}}});
  const json& d = child.data;
  EXPECT_NE(d["task_id"], parent.data["task_id"]);
  EXPECT_EQ(d["parent"], parent.data["task_id"]);
  EXPECT_EQ(d["depth"], 1);
  EXPECT_EQ(d["instance"], "run-7");  // the parent's, by default
  EXPECT_EQ(d["grants"], (json{{{"resource", "s3://art/builds/step1/*"}, {"actions", {"read"}}}}));
  ASSERT_TRUE(child.secret.has_value());
  EXPECT_EQ(child.secret->lease_options.ttl, std::chrono::seconds(120));
  EXPECT_FALSE(child.secret->lease_options.renewable);
  EXPECT_EQ(child.secret->internal_data["task_id"], d["task_id"]);

  json claims = ClaimsOf(d);
  json parent_claims = ClaimsOf(parent.data);
  EXPECT_EQ(claims["act"], (json{{"sub", parent.data["task_id"]}}));
  EXPECT_EQ(claims["sub"], parent_claims["sub"]);
  EXPECT_EQ(claims["role"], "pipeline");
  EXPECT_EQ(claims["task"], "ci-pipeline");
  EXPECT_EQ(claims["aud"], json::array({"store"}));
  EXPECT_EQ(claims["exp"], h_.now() + 120);
  EXPECT_TRUE(claims.contains("status"));

  json child_cred = d["credential"];
  json answer = h_.Introspect(Str(child_cred), {{"resource", "s3://art/builds/step1/log"}, {"action", "read"}});
  EXPECT_EQ(answer["active"], true);
  EXPECT_EQ(answer["allowed"], true);
  EXPECT_EQ(answer["act"], (json{{"sub", parent.data["task_id"]}}));
  EXPECT_EQ(h_.Introspect(Str(child_cred), {{"resource", "s3://art/builds/step1/log"}, {"action", "write"}})["allowed"],
            false);
  EXPECT_EQ(h_.Introspect(Str(child_cred), {{"resource", "s3://art/builds/step2/log"}, {"action", "read"}})["allowed"],
            false);

  // The operator sees the family from both sides.
  EXPECT_EQ(Task(parent.data)["children"], json::array({d["task_id"]}));
  EXPECT_EQ(Task(parent.data)["depth"], 0);
  json child_task = Task(d);
  EXPECT_EQ(child_task["parent"], parent.data["task_id"]);
  EXPECT_EQ(child_task["depth"], 1);
  EXPECT_EQ(child_task["children"], json::array());
}

TEST_F(DelegationTest, DefaultsAreTheParentsBoundsAndAGrandchildNestsAct) {
  logical::Response parent = Issue(h_, "creds/pipeline");
  h_.Advance(60);
  json child = Child(Str(parent.data["credential"])).data;
  EXPECT_EQ(child["grants"], parent.data["grants"]);
  EXPECT_EQ(child["audience"], parent.data["audience"]);
  EXPECT_EQ(ClaimsOf(child)["exp"], ClaimsOf(parent.data)["exp"]);  // all of the parent's remaining life
  json grandchild = Child(Str(child["credential"]), {{"grants", {"write s3://art/builds/a/b"}}}).data;
  EXPECT_EQ(grandchild["depth"], 2);
  EXPECT_EQ(ClaimsOf(grandchild)["act"],
            (json{{"sub", child["task_id"]}, {"act", {{"sub", parent.data["task_id"]}}}}));
  EXPECT_EQ(h_.Introspect(Str(grandchild["credential"]))["act"], ClaimsOf(grandchild)["act"]);
  // max_delegation_depth=2: a grandchild is the deepest.
  ExpectInvalid(Delegate(Str(grandchild["credential"])), "max_delegation_depth");
  ExpectInvalid(Delegate(Str(Issue(h_, "creds/flat").data["credential"])), "max_delegation_depth");
}

TEST_F(DelegationTest, WhateverIsNotProvablyNarrowerIsA400NamingIt) {
  const std::string token = Str(Issue(h_, "creds/pipeline").data["credential"]);
  ExpectInvalid(Delegate(token, {{"grants", {"write kv://ci/common"}}}), "grants[0]");
  ExpectInvalid(Delegate(token, {{"grants", {"read kv://ci/common", "read kv://ci/commons"}}}), "grants[1]");
  ExpectInvalid(Delegate(token, {{"grants", {"read kv://ci/*"}}}), "grants[0]");
  ExpectInvalid(Delegate(token, {{"grants", {"read s3://art/builds/{{instance}}"}}}), "placeholders");
  ExpectInvalid(Delegate(token, {{"grants", {"read s3://art/*"}}}), "grants[0]");
  ExpectInvalid(Delegate(token, {{"grants", json::array()}}), "grants");
  ExpectInvalid(Delegate(token, {{"ttl", 601}}), "ttl");
  ExpectInvalid(Delegate(token, {{"audience", {"store", "billing"}}}), "audience");
  ExpectInvalid(Delegate(token, {{"dpop_jkt", "short"}}), "dpop_jkt");
  ExpectInvalid(Delegate(token, {{"instance", "../x"}}), "instance");
  ExpectInvalid(Delegate(token, {{"max_uses", -1}}), "max_uses");
  ExpectInvalid(Delegate("not-a-credential"), "token");
  ExpectInvalid(h_.Write("delegate", json::object()), "token");
  // A 400 writes nothing: the parent lists no child.
  EXPECT_EQ(h_.Introspect(token)["active"], true);

  const std::string counted = Str(Issue(h_, "creds/counted").data["credential"]);
  ASSERT_EQ(h_.Introspect(counted, {{"consume", true}})["uses_remaining"], 2);
  ExpectInvalid(Delegate(counted, {{"max_uses", 3}}), "max_uses");
  ExpectInvalid(Delegate(counted, {{"max_uses", 0}}), "max_uses");  // unlimited is wider
  EXPECT_EQ(Child(counted).data["max_uses"], 2);                   // the parent's remaining uses
}

TEST_F(DelegationTest, DelegatingNeitherSpendsNorReservesTheParentsUses) {
  const std::string parent = Str(Issue(h_, "creds/counted").data["credential"]);
  json child = Child(parent, {{"max_uses", 3}}).data;
  for (int i = 2; i >= 0; --i) {
    EXPECT_EQ(h_.Introspect(parent, {{"consume", true}})["uses_remaining"], i);
  }
  // The parent is used up: its child goes with it, uses left or not.
  EXPECT_EQ(h_.Introspect(Str(child["credential"])), kInactive);
}

TEST_F(DelegationTest, APreviewIssuesNothing) {
  logical::Response parent = Issue(h_, "creds/pipeline");
  json before = ListKeys(h_, "tasks/");
  json p = DataOf(h_.Write("delegate/preview", {{"token", parent.data["credential"]},
                                                {"grants", {"read kv://ci/common"}},
                                                {"ttl", 30}}));
  EXPECT_EQ(p["ttl"], 30);
  EXPECT_EQ(p["claims"]["act"], (json{{"sub", parent.data["task_id"]}}));
  EXPECT_EQ(p["grants"], (json{{{"resource", "kv://ci/common"}, {"actions", {"read"}}}}));
  EXPECT_FALSE(p["claims"].contains("status"));
  EXPECT_FALSE(p.contains("credential"));
  EXPECT_EQ(ListKeys(h_, "tasks/"), before);
  EXPECT_EQ(Task(parent.data)["children"], json::array());
  ExpectInvalid(h_.Write("delegate/preview", {{"token", parent.data["credential"]}, {"ttl", 9999}}), "ttl");
}

// Every way a parent ends takes its descendants down: introspect at once,
// the status list at its next signing.
class CascadeTest : public DelegationTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(CascadeTest, AParentThatEndsTakesItsDescendantsWithIt) {
  ASSERT_TRUE(h_.Write("roles/pipeline", {{"max_uses", 2}, {"heartbeat_ttl", 300}}).ok());
  logical::Response parent = Issue(h_, "creds/pipeline");
  const std::string parent_cred = Str(parent.data["credential"]);
  json child = Child(parent_cred, {{"max_uses", 1}}).data;
  json grandchild = Child(Str(child["credential"])).data;
  json sibling = Child(parent_cred, {{"max_uses", 1}}).data;
  for (const json* c : {&child, &grandchild, &sibling}) ASSERT_EQ(h_.Introspect(Str((*c)["credential"]))["active"], true);

  const std::string how = GetParam();
  if (how == "revoke") {
    ASSERT_TRUE(h_.Revoke(*parent.secret).ok());
  } else if (how == "release") {
    ASSERT_TRUE(h_.Write("release", {{"token", parent_cred}}).ok());
  } else if (how == "use") {
    h_.Introspect(parent_cred, {{"consume", true}});
    h_.Introspect(parent_cred, {{"consume", true}});
  } else if (how == "heartbeat") {
    h_.Advance(301);
    ASSERT_TRUE(h_.Periodic().ok());  // the sweep records the missed heartbeat
  }
  for (const json* c : {&child, &grandchild, &sibling}) {
    EXPECT_EQ(h_.Introspect(Str((*c)["credential"])), kInactive) << how << " " << (*c)["task_id"];
  }
  ExpectInvalid(Delegate(Str(child["credential"])), "token");
  h_.Advance(2);  // the list is re-signed at most once a second
  EXPECT_TRUE(Revoked(h_, parent_cred)) << how;
  for (const json* c : {&child, &grandchild, &sibling}) {
    EXPECT_TRUE(Revoked(h_, Str((*c)["credential"]))) << how << " " << (*c)["task_id"];
  }
}

INSTANTIATE_TEST_SUITE_P(EachWayAParentEnds, CascadeTest,
                         ::testing::Values("revoke", "release", "use", "heartbeat"));

TEST_F(DelegationTest, AnExpiredParentTakesItsChildrenWithItAndAChildEndsAlone) {
  logical::Response parent = Issue(h_, "creds/pipeline");
  const std::string parent_cred = Str(parent.data["credential"]);
  logical::Response child = Child(parent_cred, {{"ttl", 60}});
  json sibling = Child(parent_cred).data;
  // Revoking a child's lease ends that child alone.
  ASSERT_TRUE(h_.Revoke(*child.secret).ok());
  EXPECT_EQ(h_.Introspect(Str(child.data["credential"])), kInactive);
  EXPECT_EQ(h_.Introspect(parent_cred)["active"], true);
  EXPECT_EQ(h_.Introspect(Str(sibling["credential"]))["active"], true);
  h_.Advance(2);
  EXPECT_TRUE(Revoked(h_, Str(child.data["credential"])));
  EXPECT_FALSE(Revoked(h_, parent_cred));
  EXPECT_FALSE(Revoked(h_, Str(sibling["credential"])));
  // Expiry: the parent's exp bounds every child's.
  h_.Advance(600);
  EXPECT_EQ(h_.Introspect(parent_cred), kInactive);
  EXPECT_EQ(h_.Introspect(Str(sibling["credential"])), kInactive);
}

TEST_F(DelegationTest, TidyRemovesAParentsChildEntriesWithItsRecord) {
  logical::Response parent = Issue(h_, "creds/pipeline");
  Child(Str(parent.data["credential"]));
  Child(Str(parent.data["credential"]));
  auto entries = [&] {
    auto parents = h_.storage().List("children/");
    EXPECT_TRUE(parents.ok());
    return parents.ok() ? parents->size() : 0;
  };
  ASSERT_EQ(entries(), 1u);
  ASSERT_EQ(*h_.storage().List("children/" + Str(parent.data["task_id"]) + "/"),
            (std::vector<std::string>{Task(parent.data)["children"][0], Task(parent.data)["children"][1]}));
  h_.Advance(600 + 2 * 3600);
  ASSERT_TRUE(h_.Write("tidy").ok());
  EXPECT_EQ(entries(), 0u);
  EXPECT_TRUE(ListKeys(h_, "tasks/", {{"include_ended", true}}).empty());
}

TEST_F(DelegationTest, OpaqueParentsHaveOpaqueChildren) {
  logical::Response parent = Issue(h_, "creds/opaque");
  json child = Child(Str(parent.data["credential"]), {{"grants", {"read kv://ci/common"}}}).data;
  EXPECT_EQ(child["credential_type"], "opaque");
  EXPECT_THAT(Str(child["credential"]), ::testing::StartsWith("tcop_"));
  EXPECT_EQ(h_.Introspect(Str(child["credential"]))["act"], (json{{"sub", parent.data["task_id"]}}));
  ASSERT_TRUE(h_.Write("release", {{"token", parent.data["credential"]}}).ok());
  EXPECT_EQ(h_.Introspect(Str(child["credential"])), kInactive);
}

TEST_F(DelegationTest, ABoundParentNeedsItsProofAndABindingRoleBindsTheChild) {
  ASSERT_TRUE(h_.Write("roles/pipeline", {{"binding", "dpop"}}).ok());
  auto key = crypto::SigningKey::Generate(crypto::Algorithm::kES256);
  ASSERT_TRUE(key.ok());
  const std::string jkt = Jkt(*key);
  const std::string parent = Str(Issue(h_, "creds/pipeline", {{"dpop_jkt", jkt}}).data["credential"]);
  const std::string url = "https://vault.example/v1/taskcred/delegate";
  ExpectInvalid(Delegate(parent, {{"dpop_jkt", jkt}}), "token");  // no proof
  auto proof = [&](const std::string& jti) { return SignProof(*key, GoodProof(*key, "POST", url, parent, h_.now(), jti)); };
  ExpectInvalid(Delegate(parent, {{"dpop_proof", proof("p1")}, {"method", "POST"}, {"url", url}}), "dpop_jkt");
  json child =
      Child(parent, {{"dpop_proof", proof("p2")}, {"method", "POST"}, {"url", url}, {"dpop_jkt", jkt}}).data;
  EXPECT_EQ(child["cnf"], (json{{"jkt", jkt}}));
  // A proof is good once.
  ExpectInvalid(Delegate(parent, {{"dpop_proof", proof("p2")}, {"method", "POST"}, {"url", url}, {"dpop_jkt", jkt}}),
                "token");
}

TEST_F(DelegationTest, RoleRules) {
  ExpectInvalid(h_.Write("roles/x", {{"task", "t"}, {"grants", {"read a://b"}}, {"max_delegation_depth", 9}}),
                "max_delegation_depth");
  ExpectInvalid(h_.Write("roles/x", {{"task", "t"}, {"grants", {"read a://b"}}, {"max_delegation_depth", -1}}),
                "max_delegation_depth");
  EXPECT_EQ(DataOf(h_.Read("roles/pipeline"))["max_delegation_depth"], 2);
  EXPECT_EQ(DataOf(h_.Read("roles/flat"))["max_delegation_depth"], 0);
}

}  // namespace
}  // namespace taskcred::test
