// ParseField: every field type with Vault's weak typing and hostile inputs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "framework/field.h"
#include "test_util.h"

namespace taskcred::framework {
namespace {

using nlohmann::json;

struct ParseCase {
  std::string name;
  FieldType type;
  json raw;
  std::optional<json> want;  // std::nullopt: a 400 whose message contains `error`
  std::string error;
};

ParseCase Ok(std::string name, FieldType type, json raw, json want) {
  return {std::move(name), type, std::move(raw), std::move(want), ""};
}
ParseCase Bad(std::string name, FieldType type, json raw, std::string error) {
  return {std::move(name), type, std::move(raw), std::nullopt, std::move(error)};
}

void RunCases(const std::vector<ParseCase>& cases) {
  for (const ParseCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    FieldSchema schema{.name = "foo", .type = tc.type};
    common::Result<json> got = ParseField(schema, tc.raw);
    if (tc.want) {
      ASSERT_TRUE(got.ok()) << got.status().message();
      EXPECT_EQ(*got, *tc.want);
    } else {
      ASSERT_FALSE(got.ok()) << "parsed as " << got->dump();
      EXPECT_KIND(got.status(), common::ErrorKind::kInvalidArgument);
      EXPECT_NE(got.status().message().find("field \"foo\""), std::string::npos) << got.status().message();
      EXPECT_NE(got.status().message().find(tc.error), std::string::npos) << got.status().message();
    }
  }
}

const std::string kBadUtf8 = std::string("ab\xff\xfe", 4);

TEST(FieldParseTest, Strings) {
  RunCases({
      Ok("string", FieldType::kString, "bar", "bar"),
      Ok("int as string", FieldType::kString, 42, "42"),
      Ok("negative int", FieldType::kString, -7, "-7"),
      Ok("bool true as string", FieldType::kString, true, "1"),
      Ok("null is empty", FieldType::kString, nullptr, ""),
      Ok("unicode", FieldType::kString, "h\xc3\xa9llo", "h\xc3\xa9llo"),
      Bad("object", FieldType::kString, json{{"a", 1}}, "expected a string, got an object"),
      Bad("repeated query key", FieldType::kString, json{"a", "b"}, "expected a string, got a list"),
      Bad("non-UTF-8", FieldType::kString, kBadUtf8, "UTF-8"),
      Ok("lowercase", FieldType::kLowerCaseString, "BaR", "bar"),
      Ok("lowercase int", FieldType::kLowerCaseString, 42, "42"),
      Ok("name", FieldType::kNameString, "bar.baz-bay123", "bar.baz-bay123"),
      Ok("name keeps case", FieldType::kNameString, "MyRole", "MyRole"),
      Ok("name single char", FieldType::kNameString, "a", "a"),
      Bad("name trailing dash", FieldType::kNameString, "bar-", "expected a name"),
      Bad("name slash", FieldType::kNameString, "a/b", "expected a name"),
      Bad("name empty", FieldType::kNameString, "", "expected a name"),
      Bad("name unicode", FieldType::kNameString, "h\xc3\xa9", "expected a name"),
  });
}

TEST(FieldParseTest, Integers) {
  RunCases({
      Ok("int", FieldType::kInt, 42, 42),
      Ok("negative", FieldType::kInt, -42, -42),
      Ok("numeric string", FieldType::kInt, "42", 42),
      Ok("hex string", FieldType::kInt, "0x10", 16),
      Ok("empty string is zero", FieldType::kInt, "", 0),
      Ok("integral float", FieldType::kInt, 3.0, 3),
      Ok("bool", FieldType::kInt, true, 1),
      Ok("max int64", FieldType::kInt64, INT64_MAX, INT64_MAX),
      Ok("min int64 string", FieldType::kInt, "-9223372036854775808", INT64_MIN),
      Bad("fraction", FieldType::kInt, 1.5, "expected an integer"),
      Bad("huge unsigned", FieldType::kInt, json(18446744073709551615ull), "out of range"),
      Bad("huge string", FieldType::kInt, "99999999999999999999999", "expected an integer"),
      Bad("huge float", FieldType::kInt, 1e300, "expected an integer"),
      Bad("junk", FieldType::kInt, "12abc", "expected an integer, got \"12abc\""),
      Bad("array", FieldType::kInt, json{1, 2}, "got a list"),
      Bad("object", FieldType::kInt, json::object(), "got an object"),
  });
}

TEST(FieldParseTest, Bools) {
  RunCases({
      Ok("true", FieldType::kBool, true, true),
      Ok("false", FieldType::kBool, false, false),
      Ok("string true", FieldType::kBool, "true", true),
      Ok("string 1", FieldType::kBool, "1", true),
      Ok("string F", FieldType::kBool, "F", false),
      Ok("number 0", FieldType::kBool, 0, false),
      Ok("number 1", FieldType::kBool, 1, true),
      Ok("empty string", FieldType::kBool, "", false),
      Bad("yes", FieldType::kBool, "yes", "expected a boolean"),
      Bad("number 2", FieldType::kBool, 2, "expected a boolean"),
      Bad("list", FieldType::kBool, json{true}, "expected a boolean"),
  });
}

TEST(FieldParseTest, Durations) {
  RunCases({
      Ok("string seconds", FieldType::kDurationSecond, "42", 42),
      Ok("go minutes", FieldType::kDurationSecond, "42m", 2520),
      Ok("int", FieldType::kDurationSecond, 42, 42),
      Ok("integral float", FieldType::kDurationSecond, 42.0, 42),
      Ok("null", FieldType::kDurationSecond, nullptr, 0),
      Ok("zero", FieldType::kDurationSecond, 0, 0),
      Ok("1h30m", FieldType::kDurationSecond, "1h30m", 5400),
      Ok("15m", FieldType::kDurationSecond, "15m", 900),
      Ok("90s", FieldType::kDurationSecond, "90s", 90),
      Ok("1.5h", FieldType::kDurationSecond, "1.5h", 5400),
      Ok("300ms truncates", FieldType::kDurationSecond, "300ms", 0),
      Ok("1.9s truncates", FieldType::kDurationSecond, "1.9s", 1),
      Ok("days", FieldType::kDurationSecond, "2d", 172800),
      Ok("empty string", FieldType::kDurationSecond, "", 0),
      Ok("signed negative string", FieldType::kSignedDurationSecond, "-42", -42),
      Ok("signed negative go", FieldType::kSignedDurationSecond, "-42m", -2520),
      Ok("signed negative int", FieldType::kSignedDurationSecond, -42, -42),
      Ok("signed negative float", FieldType::kSignedDurationSecond, -42.0, -42),
      Bad("junk", FieldType::kDurationSecond, "abc",
          "expected a duration (\"90\", \"15m\", \"1h30m\"), got \"abc\""),
      Bad("negative", FieldType::kDurationSecond, -5, "non-negative"),
      Bad("negative go", FieldType::kDurationSecond, "-1h", "non-negative"),
      Bad("fraction seconds", FieldType::kDurationSecond, 1.5, "expected a duration"),
      Bad("missing unit", FieldType::kDurationSecond, "1.5", "expected a duration"),
      Bad("unknown unit", FieldType::kDurationSecond, "5y", "expected a duration"),
      Bad("overflow go", FieldType::kDurationSecond, "9999999999h", "expected a duration"),
      Bad("overflow seconds", FieldType::kDurationSecond, "99999999999", "out of range"),
      Bad("overflow int", FieldType::kDurationSecond, INT64_MAX, "out of range"),
      Bad("bool", FieldType::kDurationSecond, true, "expected a duration"),
      Bad("list", FieldType::kDurationSecond, json{"1h"}, "expected a duration"),
      Bad("object", FieldType::kDurationSecond, json{{"h", 1}}, "expected a duration"),
  });
}

TEST(FieldParseTest, Slices) {
  RunCases({
      Ok("slice empty", FieldType::kSlice, json::array(), json::array()),
      Ok("slice mixed", FieldType::kSlice, json{123, "abc"}, json{123, "abc"}),
      Ok("slice scalar", FieldType::kSlice, "abc", json{"abc"}),
      Ok("string slice mixed", FieldType::kStringSlice, json{123, "abc"}, json{"123", "abc"}),
      Ok("string slice single", FieldType::kStringSlice, "abc", json{"abc"}),
      Ok("string slice keeps commas", FieldType::kStringSlice, "a,b", json{"a,b"}),
      Ok("string slice empty string", FieldType::kStringSlice, "", json::array()),
      Ok("string slice trims", FieldType::kStringSlice, json{" a ", "b\t"}, json{"a", "b"}),
      Ok("comma empty string", FieldType::kCommaStringSlice, "", json::array()),
      Ok("comma one", FieldType::kCommaStringSlice, "value1", json{"value1"}),
      Ok("comma many", FieldType::kCommaStringSlice, "value1,value2, value3",
         json{"value1", "value2", "value3"}),
      Ok("comma array", FieldType::kCommaStringSlice, json{"value1", "value2"}, json{"value1", "value2"}),
      Ok("comma empty array", FieldType::kCommaStringSlice, json::array(), json::array()),
      Ok("comma number", FieldType::kCommaStringSlice, 7, json{"7"}),
      Bad("comma nested list", FieldType::kCommaStringSlice, json::array({json::array({"a"})}), "expected a list of strings"),
      Bad("string slice object", FieldType::kStringSlice, json{{"a", "b"}}, "expected a list of strings"),
      Bad("string slice bad UTF-8", FieldType::kStringSlice, json{kBadUtf8}, "UTF-8"),
      Bad("comma bad UTF-8", FieldType::kCommaStringSlice, kBadUtf8, "UTF-8"),
  });
}

TEST(FieldParseTest, MapsAndPairs) {
  RunCases({
      Ok("map", FieldType::kMap, json{{"child", true}}, json{{"child", true}}),
      Ok("map nested", FieldType::kMap, json{{"a", {{"b", 1}}}}, json{{"a", {{"b", 1}}}}),
      Ok("map empty list", FieldType::kMap, json::array(), json::object()),
      Bad("map string", FieldType::kMap, "{}", "expected a JSON object"),
      Bad("map bad UTF-8 value", FieldType::kMap, json{{"a", json{kBadUtf8}}}, "UTF-8"),
      Bad("map bad UTF-8 key", FieldType::kMap, json{{kBadUtf8, 1}}, "UTF-8"),
      Bad("slice bad UTF-8", FieldType::kSlice, json{1, kBadUtf8}, "UTF-8"),
      Ok("kv object", FieldType::kKVPairs, json{{"key1", "value1"}, {"key3", 1}},
         json{{"key1", "value1"}, {"key3", "1"}}),
      Ok("kv list", FieldType::kKVPairs, json{"key1=value1", "key2=a=b"},
         json{{"key1", "value1"}, {"key2", "a=b"}}),
      Ok("kv single string", FieldType::kKVPairs, "key1=value1", json{{"key1", "value1"}}),
      Bad("kv no equals", FieldType::kKVPairs, json{"key1"}, "invalid key pair \"key1\""),
      Bad("kv empty key", FieldType::kKVPairs, json{"=v"}, "invalid key pair"),
      Bad("kv nested", FieldType::kKVPairs, json{{"a", {{"b", 1}}}}, "expected key/value pairs"),
  });
}

TEST(FieldParseTest, Headers) {
  // {"Content-Type":"text/json","accept":["a","b"]} in standard base64.
  const std::string b64 = "eyJDb250ZW50LVR5cGUiOiJ0ZXh0L2pzb24iLCJhY2NlcHQiOlsiYSIsImIiXX0=";
  RunCases({
      Ok("keypair list", FieldType::kHeader, json{"key1:value1", "key3:1", "key3:true"},
         json{{"Key1", {"value1"}}, {"Key3", {"1", "true"}}}),
      Ok("json string", FieldType::kHeader,
         R"({"hello":"world","bonjour":["monde","dieu"], "Guten Tag": 42, "x-num": [10, 3.14]})",
         json{{"Hello", {"world"}},
              {"Bonjour", {"monde", "dieu"}},
              {"Guten Tag", {"42"}},
              {"X-Num", {"10", "3.14"}}}),
      Ok("base64 json", FieldType::kHeader, b64,
         json{{"Content-Type", {"text/json"}}, {"Accept", {"a", "b"}}}),
      Ok("object of lists", FieldType::kHeader, json{{"key1", {"value1"}}}, json{{"Key1", {"value1"}}}),
      Bad("keypair without colon", FieldType::kHeader, json{"key1"}, "invalid key pair"),
      Bad("nested object value", FieldType::kHeader, json{{"a", {{"b", 1}}}}, "non-string value"),
      Bad("not json", FieldType::kHeader, "not json", "expected headers"),
      Bad("number", FieldType::kHeader, 5, "expected headers"),
  });
}

TEST(FieldParseTest, DeepNestingIsRejected) {
  json deep = json::object();
  for (int i = 0; i < 200; ++i) deep = json{{"a", deep}};
  common::Result<json> got = ParseField({.name = "m", .type = FieldType::kMap}, deep);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("nested too deeply"), std::string::npos);
}

TEST(FieldParseTest, AllowedValuesAreEnforcedAfterParsing) {
  FieldSchema mode{.name = "mode", .type = FieldType::kString, .allowed_values = {"a", "b"}};
  EXPECT_TRUE(ParseField(mode, "a").ok());
  common::Result<json> bad = ParseField(mode, "c");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"c\" is not one of the allowed values [\"a\",\"b\"]"),
            std::string::npos)
      << bad.status().message();

  FieldSchema lower{.name = "l", .type = FieldType::kLowerCaseString, .allowed_values = {"x"}};
  EXPECT_TRUE(ParseField(lower, "X").ok());

  FieldSchema scopes{.name = "scopes", .type = FieldType::kCommaStringSlice, .allowed_values = {"r", "w"}};
  EXPECT_TRUE(ParseField(scopes, "r,w").ok());
  EXPECT_FALSE(ParseField(scopes, "r,x").ok());

  FieldSchema n{.name = "n", .type = FieldType::kInt, .allowed_values = {1, 2}};
  EXPECT_TRUE(ParseField(n, "2").ok());
  EXPECT_FALSE(ParseField(n, 3).ok());
}

TEST(FieldParseTest, DefaultOrZero) {
  EXPECT_EQ(*DefaultOrZero({.name = "s", .type = FieldType::kString}), "");
  EXPECT_EQ(*DefaultOrZero({.name = "d", .type = FieldType::kDurationSecond, .default_value = "1h"}), 3600);
  EXPECT_EQ(*DefaultOrZero({.name = "l", .type = FieldType::kCommaStringSlice}), json::array());
  EXPECT_EQ(*DefaultOrZero({.name = "m", .type = FieldType::kMap}), json::object());
  EXPECT_EQ(*DefaultOrZero({.name = "h", .type = FieldType::kHeader}), json::object());
  EXPECT_FALSE(DefaultOrZero({.name = "b", .type = FieldType::kBool, .default_value = "maybe"}).ok());
}

TEST(FieldParseTest, GoDurationSyntax) {
  struct Case {
    const char* text;
    std::optional<int64_t> nanos;
  };
  const std::vector<Case> cases = {
      {"0", 0},
      {"5s", 5'000'000'000},
      {"+5s", 5'000'000'000},
      {"-5s", -5'000'000'000},
      {"1h2m3s", 3'723'000'000'000},
      {"1.5h", 5'400'000'000'000},
      {".5s", 500'000'000},
      {"1.s", 1'000'000'000},
      {"300ms", 300'000'000},
      {"10us", 10'000},
      {"10\xc2\xb5s", 10'000},
      {"7ns", 7},
      {"2562047h47m16.854775807s", INT64_MAX},
      {"", std::nullopt},
      {"1", std::nullopt},
      {".s", std::nullopt},
      {"3x", std::nullopt},
      {"1h-2m", std::nullopt},
      {"2562047h47m16.854775808s", std::nullopt},
      {"9223372036854775808ns", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    common::Result<std::chrono::nanoseconds> got = ParseGoDuration(c.text);
    if (c.nanos) {
      ASSERT_TRUE(got.ok()) << got.status().message();
      EXPECT_EQ(got->count(), *c.nanos);
    } else {
      EXPECT_FALSE(got.ok());
    }
  }
}

}  // namespace
}  // namespace taskcred::framework
