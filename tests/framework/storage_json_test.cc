// Typed JSON storage helpers and list pagination.
#include "framework/storage_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/response.h"
#include "test_util.h"

namespace taskcred::framework {
namespace {

using common::ErrorKind;
using nlohmann::json;

struct Role {
  std::string name;
  int64_t ttl = 0;
  std::vector<std::string> scopes;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Role, name, ttl, scopes)

TEST(StorageJsonTest, RoundTrip) {
  logical::InmemStorage storage;
  EXPECT_FALSE(GetJson<Role>(storage, "role/r1")->has_value());
  ASSERT_TRUE(PutJson(storage, "role/r1", Role{"r1", 60, {"a"}}).ok());
  common::Result<std::optional<Role>> got = GetJson<Role>(storage, "role/r1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "r1");
  EXPECT_EQ((*got)->ttl, 60);
  EXPECT_EQ((*got)->scopes, std::vector<std::string>{"a"});
  EXPECT_EQ((*storage.Get("role/r1"))->value, R"({"name":"r1","scopes":["a"],"ttl":60})");
  ASSERT_TRUE(DeleteKey(storage, "role/r1").ok());
  EXPECT_FALSE(GetJson<Role>(storage, "role/r1")->has_value());
}

TEST(StorageJsonTest, BadStoredValuesAreInternal) {
  logical::InmemStorage storage;
  ASSERT_TRUE(storage.Put({.key = "role/bad", .value = "{nope"}).ok());
  ASSERT_TRUE(storage.Put({.key = "role/wrong", .value = R"({"name": 5})"}).ok());
  EXPECT_KIND(GetJson<Role>(storage, "role/bad").status(), ErrorKind::kInternal);
  EXPECT_KIND(GetJson<Role>(storage, "role/wrong").status(), ErrorKind::kInternal);
  EXPECT_KIND(GetJson<Role>(storage, "../x").status(), ErrorKind::kInvalidArgument);
}

TEST(StorageJsonTest, ListAndPage) {
  logical::InmemStorage storage;
  for (const char* k : {"role/c", "role/a", "role/b", "role/sub/x"}) {
    ASSERT_TRUE(PutJson(storage, k, json::object()).ok());
  }
  EXPECT_EQ(*ListKeys(storage, "role/"), (std::vector<std::string>{"a", "b", "c", "sub/"}));
  EXPECT_EQ(*ListPage(storage, "role/", "a", 2), (std::vector<std::string>{"b", "c"}));

  FieldSchemaList fields = {ListAfterField(), ListLimitField()};
  EXPECT_EQ(*ListPageFromFields(storage, "role/", FieldData(fields, {{"after", "b"}})),
            (std::vector<std::string>{"c", "sub/"}));
  EXPECT_EQ(*ListPageFromFields(storage, "role/", FieldData(fields, {{"limit", "1"}})),
            std::vector<std::string>{"a"});
  EXPECT_KIND(ListPageFromFields(storage, "role/", FieldData(fields, {{"limit", -1}})).status(),
              ErrorKind::kInvalidArgument);
  // Without the pagination fields declared, everything is listed.
  EXPECT_EQ(ListPageFromFields(storage, "role/", FieldData(FieldSchemaList{}, {{"limit", 1}}))->size(), 4u);
}

TEST(ResponseTest, Builders) {
  EXPECT_EQ(ListResponse({"a", "b"}).data, json({{"keys", {"a", "b"}}}));
  EXPECT_EQ(ListResponse({}).data, json::object());
  EXPECT_EQ(ListResponseWithInfo({"a"}, {{"a", {{"ttl", 1}}}, {"zzz", 2}}).data,
            json({{"keys", {"a"}}, {"key_info", {{"a", {{"ttl", 1}}}}}}));
  EXPECT_EQ(HelpResponse("h", json::object()).data,
            json({{"help", "h"}, {"see_also", json::array()}, {"openapi", json::object()}}));
  EXPECT_FALSE(NoResponse()->has_value());
}

}  // namespace
}  // namespace taskcred::framework
