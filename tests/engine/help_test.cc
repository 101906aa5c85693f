#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST(HelpTest, EveryPathHasHelpAndTheOpenApiDocumentListsThem) {
  EngineHarness h;
  for (const char* path :
       {"config", "rotate", "jwks", ".well-known/jwks.json", ".well-known/openid-configuration", "roles/",
        "roles/r", "roles/r/preview", "creds/r", "creds/r/i", "introspect", "release", "tasks/",
        "tasks/0b7c2b1e-4f3a-4c9e-8d6f-2a1b3c4d5e6f", "tidy"}) {
    SCOPED_TRACE(path);
    auto req = h.NewRequest(logical::Operation::kHelp, path);
    auto r = h.Handle(req);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->has_value());
    std::string help = (*r)->data.value("help", "");
    EXPECT_GT(help.size(), 80u);
  }
  json openapi = h.backend().OpenAPI();
  for (const char* p : {"/config", "/rotate", "/jwks", "/roles/{name}", "/roles/{name}/preview",
                        "/introspect", "/release", "/tidy"}) {
    EXPECT_TRUE(openapi["paths"].contains(p)) << p;
  }
}

TEST(HelpTest, RootHelpDescribesTheEngine) {
  EngineHarness h;
  auto req = h.NewRequest(logical::Operation::kHelp, "");
  auto r = h.Handle(req);
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_THAT((*r)->data.value("help", ""), HasSubstr("task-scoped credentials"));
}

}  // namespace
}  // namespace taskcred::test
