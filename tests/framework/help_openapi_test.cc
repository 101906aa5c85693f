// Help texts and the OpenAPI document: structure and Vault's validity rules.
#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "framework/backend.h"
#include "framework/backend_impl.h"
#include "framework/response.h"
#include "test_util.h"

namespace taskcred::framework {
namespace {

using logical::Operation;
using nlohmann::json;

HandlerResult Nothing(logical::Request&, const FieldData&) { return NoResponse(); }

BackendSpec HelpSpec() {
  BackendSpec spec;
  spec.help = "  Issues task credentials.  ";
  spec.special_paths.unauthenticated = {"public/*"};
  spec.special_paths.root = {"config"};
  spec.paths = {
      {.pattern = "roles/?",
       .fields =
           {{.name = "after", .type = FieldType::kString, .description = "Start after.", .query = true}},
       .operations = {{Operation::kList, {Nothing, "List roles."}}},
       .help = {"List the roles."}},
      {.pattern = "roles/" + GenericNameRegex("name"),
       .fields =
           {{.name = "name", .type = FieldType::kNameString, .required = true, .description = "Role name."},
            {.name = "ttl",
             .type = FieldType::kDurationSecond,
             .description = "Lease TTL.",
             .default_value = 60},
            {.name = "scopes",
             .type = FieldType::kCommaStringSlice,
             .required = true,
             .description = "Scopes.\n  Several   lines."},
            {.name = "old", .type = FieldType::kBool, .description = "Old.", .deprecated = true}},
       .existence_check = [](logical::Request&, const FieldData&) -> common::Result<bool> { return false; },
       .operations = {{Operation::kRead, {Nothing, "Read a role."}},
                      {Operation::kCreate, {Nothing, "Create a role."}},
                      {Operation::kUpdate, {Nothing, "Update a role."}},
                      {Operation::kDelete, {Nothing, "Delete a role."}}},
       .help = {"Manage roles.", "Roles say what credentials may do."}},
      {.pattern = "creds/" + GenericNameRegex("name") + OptionalParamRegex("extra"),
       .fields = {{.name = "name", .type = FieldType::kNameString},
                  {.name = "extra", .type = FieldType::kString}},
       .operations = {{Operation::kRead,
                       [] {
                         OperationHandler h(Nothing, "Issue a credential.");
                         h.responses = {{.status = 200,
                                         .description = "A credential.",
                                         .fields = {{.name = "token", .type = FieldType::kString}}},
                                        {.status = 404, .description = "No such role."}};
                         return h;
                       }()}},
       .help = {"Issue credentials."}},
      {.pattern = "config",
       .fields = {{.name = "url", .type = FieldType::kString}},
       .operations = {{Operation::kUpdate, Nothing}, {Operation::kPatch, Nothing}}},
      {.pattern = "public/keys", .operations = {{Operation::kRead, Nothing}}},
      {.pattern = "regex/.*", .operations = {{Operation::kRead, Nothing}}},
      {.pattern = "hidden",
       .operations = {{Operation::kRead,
                       [] {
                         OperationHandler h(Nothing);
                         h.unpublished = true;
                         return h;
                       }()}}},
  };
  return spec;
}

class HelpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = Backend::Create(HelpSpec());
    ASSERT_TRUE(b.ok()) << b.status().message();
    backend_ = std::move(*b);
  }
  logical::Response Help(const std::string& path, json data = json::object()) {
    logical::Request req = env_.Make(Operation::kHelp, path, std::move(data));
    logical::HandlerResult r = backend_->HandleRequest(req);
    EXPECT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(r.ok() && r->has_value());
    return r.ok() && r->has_value() ? **r : logical::Response{};
  }
  test::RequestEnv env_;
  std::unique_ptr<Backend> backend_;
};

// Checks the document against the rules Vault applies when merging plugin
// documents (sdk/framework/openapi.go NewOASDocumentFromMap and friends).
void ExpectValidOpenAPI(const json& doc) {
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["openapi"], "3.0.2");
  ASSERT_TRUE(doc["info"].is_object());
  EXPECT_TRUE(doc["info"]["title"].is_string());
  EXPECT_TRUE(doc["info"]["version"].is_string());
  ASSERT_TRUE(doc["paths"].is_object());
  ASSERT_TRUE(doc["components"]["schemas"].is_object());
  const std::set<std::string> methods = {"get", "post", "delete", "patch"};
  const std::set<std::string> item_keys = {"description",
                                           "parameters",
                                           "x-vault-sudo",
                                           "x-vault-unauthenticated",
                                           "x-vault-createSupported",
                                           "x-vault-displayNavigation",
                                           "x-vault-displayAttrs"};
  std::set<std::string> op_ids;
  for (const auto& [key, item] : doc["paths"].items()) {
    SCOPED_TRACE(key);
    ASSERT_FALSE(key.empty());
    EXPECT_EQ(key[0], '/');
    EXPECT_EQ(key.find_first_of("()^$*?|\\"), std::string::npos);
    std::set<std::string> templated;
    for (size_t open = key.find('{'); open != std::string::npos; open = key.find('{', open + 1)) {
      size_t close = key.find('}', open);
      ASSERT_NE(close, std::string::npos);
      templated.insert(key.substr(open + 1, close - open - 1));
    }
    std::set<std::string> path_params;
    for (const json& p : item.value("parameters", json::array())) {
      ASSERT_TRUE(p["name"].is_string());
      ASSERT_TRUE(p["in"] == "path" || p["in"] == "query") << p.dump();
      if (p["in"] == "path") {
        EXPECT_EQ(p["required"], true);
        EXPECT_TRUE(templated.count(p["name"].get<std::string>())) << p.dump();
        path_params.insert(p["name"].get<std::string>());
      }
    }
    EXPECT_EQ(path_params, templated);  // every template variable is described
    for (const auto& [k, v] : item.items()) {
      if (methods.count(k)) {
        ASSERT_TRUE(v.is_object());
        ASSERT_TRUE(v["operationId"].is_string());
        EXPECT_TRUE(op_ids.insert(v["operationId"].get<std::string>()).second) << "duplicate operationId";
        ASSERT_TRUE(v["responses"].is_object());
        EXPECT_FALSE(v["responses"].empty());
        for (const auto& [code, resp] : v["responses"].items()) {
          ASSERT_EQ(code.size(), 3u) << code;
          ASSERT_TRUE(code[0] >= '1' && code[0] <= '5' && isdigit(code[1]) && isdigit(code[2])) << code;
          EXPECT_TRUE(resp["description"].is_string());
        }
        if (v.contains("requestBody")) {
          std::string ref = v["requestBody"]["content"]["application/json"]["schema"]["$ref"];
          const std::string prefix = "#/components/schemas/";
          ASSERT_EQ(ref.rfind(prefix, 0), 0u);
          EXPECT_TRUE(doc["components"]["schemas"].contains(ref.substr(prefix.size()))) << ref;
        }
      } else {
        EXPECT_TRUE(item_keys.count(k)) << "unexpected path item key " << k;
      }
    }
  }
}

TEST_F(HelpTest, RootHelpListsEveryPathAndCarriesAValidDocument) {
  logical::Response r = Help("");
  ASSERT_TRUE(r.data["help"].is_string());
  std::string text = r.data["help"];
  EXPECT_NE(text.find("## DESCRIPTION\n\nIssues task credentials.\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    ^roles/?$\n        List the roles.\n"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(    ^roles/(?P<name>\w(([\w-.]+)?\w)?)$)"), std::string::npos) << text;
  EXPECT_LT(text.find("^config$"), text.find("^roles/?$"));  // sorted
  EXPECT_EQ(r.data["see_also"], json::array());
  const json& doc = r.data["openapi"];
  ExpectValidOpenAPI(doc);
  EXPECT_EQ(doc["info"]["version"], "1.15.0");
  EXPECT_TRUE(doc["paths"].contains("/roles"));
  EXPECT_FALSE(doc["paths"].contains("/roles/"));
  EXPECT_TRUE(doc["paths"].contains("/roles/{name}"));
  EXPECT_TRUE(doc["paths"].contains("/creds/{name}"));
  EXPECT_TRUE(doc["paths"].contains("/creds/{name}/{extra}"));
  EXPECT_FALSE(doc["paths"].contains("/hidden") && doc["paths"]["/hidden"].contains("get"));
  for (const auto& [k, v] : doc["paths"].items()) EXPECT_EQ(k.find("regex"), std::string::npos) << k;
}

TEST_F(HelpTest, OpenAPIDetails) {
  json doc = backend_->OpenAPI("1.2.3", "taskcred");
  ExpectValidOpenAPI(doc);
  const json& role = doc["paths"]["/roles/{name}"];
  EXPECT_EQ(role["description"], "Manage roles.");
  EXPECT_EQ(role["x-vault-createSupported"], true);
  EXPECT_FALSE(role.contains("x-vault-unauthenticated"));
  EXPECT_EQ(role["get"]["operationId"], "taskcred-read-roles-name");
  EXPECT_EQ(role["post"]["operationId"], "taskcred-write-roles-name");
  EXPECT_EQ(role["post"]["summary"], "Update a role.");
  EXPECT_EQ(role["post"]["tags"], json::array({"secrets"}));
  EXPECT_EQ(role["delete"]["responses"]["204"]["description"], "empty body");
  EXPECT_EQ(role["get"]["responses"]["200"]["description"], "OK");
  const json& body = doc["components"]["schemas"]["TaskcredWriteRolesNameRequest"];
  EXPECT_EQ(body["type"], "object");
  EXPECT_EQ(body["required"], json::array({"scopes"}));
  EXPECT_EQ(body["properties"]["ttl"]["type"], "integer");
  EXPECT_EQ(body["properties"]["ttl"]["format"], "seconds");
  EXPECT_EQ(body["properties"]["ttl"]["default"], 60);
  EXPECT_EQ(body["properties"]["scopes"]["type"], "array");
  EXPECT_EQ(body["properties"]["scopes"]["items"]["type"], "string");
  EXPECT_EQ(body["properties"]["scopes"]["description"], "Scopes. Several lines.");
  EXPECT_EQ(body["properties"]["old"]["deprecated"], true);
  EXPECT_FALSE(body["properties"].contains("name"));  // a path parameter, not body
  ASSERT_EQ(role["parameters"].size(), 1u);
  EXPECT_EQ(role["parameters"][0]["name"], "name");
  EXPECT_EQ(role["parameters"][0]["schema"]["pattern"], R"(\w([\w-.]*\w)?)");

  const json& list = doc["paths"]["/roles"];
  EXPECT_EQ(list["get"]["operationId"], "taskcred-list-roles");
  EXPECT_EQ(list["get"]["parameters"][0]["name"], "list");
  EXPECT_EQ(list["parameters"][0]["in"], "query");

  const json& creds = doc["paths"]["/creds/{name}"]["get"];
  EXPECT_EQ(creds["responses"]["404"]["description"], "No such role.");
  EXPECT_EQ(creds["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/TaskcredReadCredsNameResponse");

  EXPECT_EQ(doc["paths"]["/public/keys"]["x-vault-unauthenticated"], true);
  EXPECT_EQ(doc["paths"]["/config"]["x-vault-sudo"], true);
  EXPECT_TRUE(doc["paths"]["/config"].contains("patch"));
  EXPECT_FALSE(doc["paths"]["/hidden"].contains("get"));
}

TEST_F(HelpTest, PathHelp) {
  logical::Response r = Help("roles/r1");
  std::string text = r.data["help"];
  EXPECT_NE(text.find("Request:        roles/r1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Matching Route: ^roles/(?P<name>"), std::string::npos) << text;
  EXPECT_NE(text.find("\nManage roles.\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    ttl (duration (sec))\n\n        Lease TTL.\n"), std::string::npos) << text;
  EXPECT_NE(text.find("        (DEPRECATED) Old."), std::string::npos) << text;
  EXPECT_NE(text.find("## DESCRIPTION\n\nRoles say what credentials may do.\n"), std::string::npos) << text;
  // Declaration order is kept.
  EXPECT_LT(text.find("    name (name string)"), text.find("    ttl (duration (sec))"));
  ExpectValidOpenAPI(r.data["openapi"]);
  EXPECT_TRUE(r.data["openapi"]["paths"].contains("/roles/{name}"));
  EXPECT_EQ(r.data["openapi"]["paths"].size(), 1u);
}

TEST_F(HelpTest, HelpSkipsFieldValidationAndUnknownPathsAre404) {
  logical::Response r = Help("roles/r1", {{"ttl", "garbage"}});
  EXPECT_TRUE(r.data.contains("help"));
  logical::Request req = env_.Make(Operation::kHelp, "unknown/path");
  EXPECT_KIND(backend_->HandleRequest(req).status(), common::ErrorKind::kUnsupportedPath);
}

TEST_F(HelpTest, PlaceholdersForMissingText) {
  logical::Response r = Help("config");
  std::string text = r.data["help"];
  EXPECT_NE(text.find("<no synopsis>"), std::string::npos);
  EXPECT_NE(text.find("<no description>"), std::string::npos);
}

TEST(RootHelpTest, AnswersWithoutSystemViewAndWithoutPaths) {
  auto b = Backend::Create(BackendSpec{});
  ASSERT_TRUE(b.ok());
  logical::Request req;
  req.operation = Operation::kHelp;
  logical::HandlerResult r = (*b)->HandleRequest(req);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->data["openapi"]["info"]["version"], "unknown");
  EXPECT_TRUE((*r)->data["openapi"]["paths"].empty());
}

TEST(ExpandPatternTest, Cases) {
  struct Case {
    std::string pattern;
    std::optional<std::vector<std::string>> want;
  };
  const std::vector<Case> cases = {
      {"^roles/?$", std::vector<std::string>{"roles"}},
      {"^roles/" + GenericNameRegex("name") + "$", std::vector<std::string>{"roles/{name}"}},
      {"^creds/" + GenericNameRegex("name") + OptionalParamRegex("x") + "$",
       std::vector<std::string>{"creds/{name}", "creds/{name}/{x}"}},
      {"^(keys|certs)/" + MatchAllRegex("rest") + "$",
       std::vector<std::string>{"keys/{rest}", "certs/{rest}"}},
      {"^a(?:/b)?$", std::vector<std::string>{"a", "a/b"}},
      {R"(^a\.b$)", std::vector<std::string>{"a.b"}},
      {"^keys/.*$", std::nullopt},
      {"^keys/[a-z]+$", std::nullopt},
      {"^(?i)keys$", std::nullopt},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.pattern);
    EXPECT_EQ(ExpandPattern(tc.pattern), tc.want);
  }
}

TEST(SpecialPathMatchTest, Cases) {
  EXPECT_TRUE(SpecialPathMatch("login", {"login"}));
  EXPECT_FALSE(SpecialPathMatch("login/x", {"login"}));
  EXPECT_TRUE(SpecialPathMatch("public/keys", {"public/*"}));
  EXPECT_TRUE(SpecialPathMatch("roles/{name}/creds", {"roles/+/creds"}));
  EXPECT_FALSE(SpecialPathMatch("roles/{name}/other", {"roles/+/creds"}));
  EXPECT_FALSE(SpecialPathMatch("config", {}));
}

}  // namespace
}  // namespace taskcred::framework
