// FieldData: getters, defaults, required fields, UpdateIfSet, misuse.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/field.h"
#include "test_util.h"

namespace taskcred::framework {
namespace {

using common::ErrorKind;
using nlohmann::json;

FieldSchemaList RoleSchema() {
  return {
      {.name = "name", .type = FieldType::kNameString, .required = true},
      {.name = "ttl", .type = FieldType::kDurationSecond, .default_value = "1h"},
      {.name = "count", .type = FieldType::kInt},
      {.name = "enabled", .type = FieldType::kBool, .default_value = true},
      {.name = "scopes", .type = FieldType::kCommaStringSlice},
      {.name = "labels", .type = FieldType::kKVPairs},
      {.name = "headers", .type = FieldType::kHeader},
      {.name = "extra", .type = FieldType::kMap},
  };
}

TEST(FieldDataTest, GettersReturnParsedValues) {
  FieldData d(RoleSchema(), json{{"name", "r1"},
                                 {"ttl", "15m"},
                                 {"count", "3"},
                                 {"enabled", "false"},
                                 {"scopes", "a,b"},
                                 {"labels", json{"k=v"}},
                                 {"headers", json{"x-a:1"}},
                                 {"extra", {{"z", 1}}}});
  ASSERT_TRUE(d.Validate().ok());
  EXPECT_EQ(*d.GetString("name"), "r1");
  EXPECT_EQ(*d.GetDurationSeconds("ttl"), 900);
  EXPECT_EQ(*d.GetDuration("ttl"), std::chrono::minutes(15));
  EXPECT_EQ(*d.GetInt("count"), 3);
  EXPECT_EQ(*d.GetBool("enabled"), false);
  EXPECT_EQ(*d.GetStringSlice("scopes"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*d.GetStringMap("labels"), (std::map<std::string, std::string>{{"k", "v"}}));
  EXPECT_EQ((*d.GetHeader("headers")).at("X-A"), std::vector<std::string>{"1"});
  EXPECT_EQ(*d.GetJson("extra"), json({{"z", 1}}));
  EXPECT_EQ(*d.GetJson("ttl"), json(900));
}

TEST(FieldDataTest, AbsentFieldsGiveDefaultOrZero) {
  FieldData d(RoleSchema(), json::object());
  EXPECT_FALSE(d.Has("ttl"));
  EXPECT_EQ(*d.GetDurationSeconds("ttl"), 3600);
  EXPECT_EQ(*d.GetBool("enabled"), true);
  EXPECT_EQ(*d.GetInt("count"), 0);
  EXPECT_EQ(*d.GetString("name"), "");
  EXPECT_TRUE(d.GetStringSlice("scopes")->empty());
  EXPECT_TRUE(d.GetStringMap("labels")->empty());
}

TEST(FieldDataTest, NullCountsAsAbsent) {
  FieldData d(RoleSchema(), json{{"count", nullptr}});
  EXPECT_FALSE(d.Has("count"));
  EXPECT_EQ(*d.GetInt("count"), 0);
}

TEST(FieldDataTest, ValidateNamesTheFirstBadField) {
  FieldData d(RoleSchema(), json{{"ttl", "abc"}, {"count", "x"}, {"unknown", {{"deep", 1}}}});
  common::Status st = d.Validate();
  EXPECT_KIND(st, ErrorKind::kInvalidArgument);
  EXPECT_NE(st.message().find("field \"count\""), std::string::npos) << st.message();
}

TEST(FieldDataTest, ValidateRequired) {
  EXPECT_KIND(FieldData(RoleSchema(), json::object()).ValidateRequired(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(FieldData(RoleSchema(), json{{"name", nullptr}}).ValidateRequired().message(),
            "missing required field \"name\"");
  EXPECT_TRUE(FieldData(RoleSchema(), json{{"name", "x"}}).ValidateRequired().ok());
}

TEST(FieldDataTest, MisuseIsInternalNotACrash) {
  FieldData d(RoleSchema(), json{{"name", "r1"}});
  EXPECT_KIND(d.GetString("nope").status(), ErrorKind::kInternal);
  EXPECT_KIND(d.GetInt("name").status(), ErrorKind::kInternal);
  EXPECT_KIND(d.GetBool("ttl").status(), ErrorKind::kInternal);
  EXPECT_KIND(d.GetStringSlice("labels").status(), ErrorKind::kInternal);
  std::string target = "keep";
  EXPECT_KIND(d.UpdateIfSet("nope", target), ErrorKind::kInternal);
  EXPECT_EQ(target, "keep");
  int64_t n = 5;
  EXPECT_KIND(d.UpdateIfSet("name", n), ErrorKind::kInternal);
  EXPECT_EQ(n, 5);
}

TEST(FieldDataTest, UpdateIfSetOnlyTouchesPresentFields) {
  FieldData d(RoleSchema(), json{{"ttl", "2h"}, {"scopes", json{"x"}}, {"count", 7}});
  std::chrono::seconds ttl{10};
  std::vector<std::string> scopes{"old"};
  std::map<std::string, std::string> labels{{"keep", "me"}};
  bool enabled = false;
  int count = 0;
  int64_t count64 = 0;
  json extra = "unchanged";
  ASSERT_TRUE(d.UpdateIfSet("ttl", ttl).ok());
  ASSERT_TRUE(d.UpdateIfSet("scopes", scopes).ok());
  ASSERT_TRUE(d.UpdateIfSet("labels", labels).ok());
  ASSERT_TRUE(d.UpdateIfSet("enabled", enabled).ok());
  ASSERT_TRUE(d.UpdateIfSet("count", count).ok());
  ASSERT_TRUE(d.UpdateIfSet("count", count64).ok());
  ASSERT_TRUE(d.UpdateIfSet("extra", extra).ok());
  EXPECT_EQ(ttl, std::chrono::hours(2));
  EXPECT_EQ(scopes, std::vector<std::string>{"x"});
  EXPECT_EQ(labels.at("keep"), "me");
  EXPECT_FALSE(enabled);  // absent: the default (true) is not applied
  EXPECT_EQ(count, 7);
  EXPECT_EQ(count64, 7);
  EXPECT_EQ(extra, "unchanged");
}

TEST(FieldDataTest, UpdateIfSetIntRange) {
  FieldData d({{.name = "n", .type = FieldType::kInt}}, json{{"n", int64_t{1} << 40}});
  int n = 1;
  EXPECT_KIND(d.UpdateIfSet("n", n), ErrorKind::kInvalidArgument);
  EXPECT_EQ(n, 1);
}

TEST(FieldDataTest, NonObjectRawIsEmpty) {
  FieldData d(RoleSchema(), json::array({1, 2}));
  EXPECT_TRUE(d.raw().is_object());
  EXPECT_TRUE(d.Validate().ok());
}

}  // namespace
}  // namespace taskcred::framework
