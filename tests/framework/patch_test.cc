// HandlePatchOperation: RFC 7396 merge over declared, typed fields.
#include "framework/patch.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace taskcred::framework {
namespace {

using nlohmann::json;

FieldSchemaList Schema() {
  return {{.name = "ttl", .type = FieldType::kDurationSecond},
          {.name = "scopes", .type = FieldType::kCommaStringSlice},
          {.name = "meta", .type = FieldType::kMap}};
}

TEST(PatchTest, MergesTypedDeclaredFields) {
  json resource = {{"ttl", 60}, {"scopes", {"a"}}, {"meta", {{"x", 1}, {"y", 2}}}, {"kept", true}};
  FieldData input(Schema(), {{"ttl", "2m"}, {"meta", {{"y", nullptr}, {"z", 3}}}, {"undeclared", 1}});
  common::Result<json> got = HandlePatchOperation(input, resource);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, json({{"ttl", 120}, {"scopes", {"a"}}, {"meta", {{"x", 1}, {"z", 3}}}, {"kept", true}}));
}

TEST(PatchTest, NullRemovesAndPreprocessorRuns) {
  json resource = {{"ttl", 60}, {"scopes", {"a"}}};
  FieldData input(Schema(), {{"scopes", nullptr}});
  common::Result<json> got = HandlePatchOperation(input, resource, [](json patch) -> common::Result<json> {
    patch["ttl"] = 5;
    return patch;
  });
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, json({{"ttl", 5}}));
}

TEST(PatchTest, Errors) {
  FieldData input(Schema(), {{"ttl", "junk"}});
  EXPECT_KIND(HandlePatchOperation(input, json::object()).status(), common::ErrorKind::kInvalidArgument);
  FieldData empty(Schema(), json::object());
  common::Status missing = HandlePatchOperation(empty, nullptr).status();
  EXPECT_EQ(missing.message(), "resource does not exist");
  common::Status pre = HandlePatchOperation(empty, json::object(), [](json) -> common::Result<json> {
                         return common::Status::InvalidArgument("nope");
                       }).status();
  EXPECT_EQ(pre.message(), "nope");
}

}  // namespace
}  // namespace taskcred::framework
