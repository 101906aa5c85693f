#include "grants/grant.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace taskcred::grants {
namespace {

using nlohmann::json;

struct MatchCase {
  const char* pattern;
  const char* resource;
  bool want;
};

// Exact matches, near misses, traversal, case, encoding, wildcards.
const MatchCase kMatchCases[] = {
    // Exact.
    {"s3://b/x", "s3://b/x", true},
    {"s3://b", "s3://b", true},
    {"s3://b/X", "s3://b/X", true},
    {"kv://db1/backup-user", "kv://db1/backup-user", true},
    {"s3://b/a=1,b@c:d~e+f", "s3://b/a=1,b@c:d~e+f", true},
    {"https://host.example:8443/api/v1", "https://host.example:8443/api/v1", true},
    // Prefixes are not matches.
    {"s3://b/x", "s3://b/xy", false},
    {"s3://b/x", "s3://b/x/y", false},
    {"s3://b/x", "s3://b", false},
    {"s3://b", "s3://b/x", false},
    {"s3://b/x", "s3://bb/x", false},
    {"s3://b/xy", "s3://b/x", false},
    // Traversal and dot segments are refused, never resolved.
    {"s3://b/x", "s3://b/x/../x", false},
    {"s3://b/y", "s3://b/x/../y", false},
    {"s3://b/x/**", "s3://b/x/../y", false},
    {"s3://b/**", "s3://b/x/../y", false},
    {"s3://b/x", "s3://b/./x", false},
    {"s3://b/**", "s3://b/./x", false},
    {"s3://b/**", "s3://b/x/.", false},
    {"s3://b/**", "s3://b/...", false},
    {"s3://b/*", "s3://b/..", false},
    // Empty segments and trailing slashes.
    {"s3://b/x", "s3://b//x", false},
    {"s3://b/**", "s3://b//x", false},
    {"s3://b/x", "s3://b/x/", false},
    {"s3://b/x/**", "s3://b/x/", false},
    {"s3://b", "s3://b/", false},
    // Encoding is not decoded.
    {"s3://b/x", "s3://b/%78", false},
    {"s3://b/x/*", "s3://b/x/a%2fb", false},
    {"s3://b/x/*", "s3://b/x/%2e%2e", false},
    {"s3://b/**", "s3://b/x%2F..%2Fy", false},
    {"s3://b/**", "s3://b/x\\..\\y", false},
    {"s3://b/*", "s3://b/x?y", false},
    {"s3://b/*", "s3://b/x#y", false},
    {"s3://b/*", "s3://b/x y", false},
    {"s3://b/*", "s3://b/x\ty", false},
    {"s3://b/*", "s3://b/\xc3\xa9", false},
    // Case-sensitive, no case folding anywhere.
    {"s3://b/x", "S3://b/x", false},
    {"s3://b/x", "s3://B/x", false},
    {"s3://b/x", "s3://b/X", false},
    {"s3://b/X", "s3://b/x", false},
    // Scheme and authority are exact.
    {"s3://b/x", "gs://b/x", false},
    {"s3://b/x", "s3://c/x", false},
    {"s3://b/x", "s3://b:1/x", false},
    {"s3://b/x", "s3:/b/x", false},
    {"s3://b/x", "s3:b/x", false},
    {"s3://b/x", "//b/x", false},
    // '*' = exactly one segment.
    {"s3://b/x/*", "s3://b/x/y", true},
    {"s3://b/x/*", "s3://b/x/y.tar.gz", true},
    {"s3://b/x/*", "s3://b/x", false},
    {"s3://b/x/*", "s3://b/x/y/z", false},
    {"s3://b/x/*", "s3://b/xy/z", false},
    {"s3://b/*/z", "s3://b/x/z", true},
    {"s3://b/*/z", "s3://b/x/y/z", false},
    {"s3://b/*/z", "s3://b/z", false},
    {"s3://b/*/*", "s3://b/x/y", true},
    // Final '**' = one or more segments.
    {"s3://b/x/**", "s3://b/x/y", true},
    {"s3://b/x/**", "s3://b/x/y/z/w", true},
    {"s3://b/x/**", "s3://b/x", false},
    {"s3://b/x/**", "s3://b/xy/z", false},
    {"s3://b/*/**", "s3://b/x/y", true},
    {"s3://b/*/**", "s3://b/x", false},
    {"s3://b/**", "s3://b", false},
    {"s3://b/**", "s3://b/x", true},
    // A requested resource never holds a wildcard or placeholder.
    {"s3://b/x/*", "s3://b/x/*", false},
    {"s3://b/x/**", "s3://b/x/**", false},
    {"s3://b/x/**", "s3://b/x/y*", false},
    {"s3://b/x/{{id}}", "s3://b/x/{{id}}", false},
    // Invalid patterns allow nothing.
    {"s3://b/x*", "s3://b/xy", false},
    {"s3://b/*x", "s3://b/ax", false},
    {"s3://b/***", "s3://b/x", false},
    {"s3://b/**/x", "s3://b/a/x", false},
    {"s3://*/x", "s3://b/x", false},
    {"s3://b/x/{{id}}", "s3://b/x/1", false},
    {"s3://b/../x", "s3://b/../x", false},
    {"S3://b/x", "S3://b/x", false},
    {"s3://B/x", "s3://B/x", false},
    {"", "", false},
};

TEST(GrantsMatch, Table) {
  for (const auto& c : kMatchCases) {
    SCOPED_TRACE(std::string(c.pattern) + " vs " + c.resource);
    EXPECT_EQ(MatchesResource(c.pattern, c.resource), c.want);
    std::vector<Grant> grants = {{c.pattern, {"read"}}};
    EXPECT_EQ(Allows(grants, c.resource, "read"), c.want);
    EXPECT_FALSE(Allows(grants, c.resource, "write"));
  }
}

TEST(GrantsMatch, Actions) {
  std::vector<Grant> grants = {{"s3://b/x", {"read", "write"}}, {"s3://b/y/*", {"delete"}}};
  EXPECT_TRUE(Allows(grants, "s3://b/x", "read"));
  EXPECT_TRUE(Allows(grants, "s3://b/x", "write"));
  EXPECT_FALSE(Allows(grants, "s3://b/x", "delete"));
  EXPECT_TRUE(Allows(grants, "s3://b/y/1", "delete"));
  EXPECT_FALSE(Allows(grants, "s3://b/y/1", "read"));
  for (const char* bad : {"Read", "READ", "read ", " read", "", "*", "re*", "read,write", "1read", "r\xc3\xa9"}) {
    EXPECT_FALSE(Allows(grants, "s3://b/x", bad)) << bad;
  }
  EXPECT_FALSE(Allows({}, "s3://b/x", "read"));
  // A grant with an invalid action list allows nothing, even for its valid actions.
  EXPECT_FALSE(Allows({{"s3://b/x", {"read", "Read"}}}, "s3://b/x", "read"));
  EXPECT_FALSE(Allows({{"s3://b/x", {"read", "read"}}}, "s3://b/x", "read"));
  // An invalid grant does not stop a later valid one.
  EXPECT_TRUE(Allows({{"s3://b/x*", {"read"}}, {"s3://b/x", {"read"}}}, "s3://b/x", "read"));
}

struct ValidationCase {
  const char* resource;
  const char* error;  // substring of the error, or nullptr when valid
};

const ValidationCase kTemplateCases[] = {
    {"s3://backups/db1/{{snapshot_id}}", nullptr},
    {"s3://backups/db1/snap-{{id}}.tar", nullptr},
    {"s3://backups/{{a}}{{b}}/x", nullptr},
    {"s3://{{bucket}}/x", nullptr},
    {"kv://db1/{{identity.entity.aliases.auth_oidc_1.metadata.run-id}}", nullptr},
    {"s3://b/{{id}}/*", nullptr},
    {"s3://b/*/{{id}}", nullptr},
    {"s3://b/{{id}}/**", nullptr},
    {"s3://b", nullptr},
    {"git+ssh://host/x", nullptr},
    {"s3://b/x/{{ id }}", "placeholder names"},
    {"s3://b/x/{{}}", "empty placeholder"},
    {"s3://b/x/{{id}", "unterminated"},
    {"s3://b/x/{id}", "braces"},
    {"s3://b/x/id}}", "braces"},
    {"s3://b/x/{{i/d}}", "unterminated"},
    {"s3://b/x{{id}}*", "whole segment"},
    {"{{scheme}}://b/x", "scheme"},
    {"s3://b/x*", "whole segment"},
    {"s3://b/*x", "whole segment"},
    {"s3://b/***", "whole segment"},
    {"s3://b/**/x", "last segment"},
    {"s3://*/x", "authority"},
    {"s3://b*/x", "authority"},
    {"s3://**", "authority"},
    {"S3://b/x", "scheme"},
    {"3s://b/x", "scheme"},
    {"s_3://b/x", "scheme"},
    {"://b/x", "scheme"},
    {"s3:/b/x", "scheme://authority"},
    {"s3:b", "scheme://authority"},
    {"/b/x", "scheme://authority"},
    {"", "empty"},
    {"s3:///x", "authority must not be empty"},
    {"s3://", "authority must not be empty"},
    {"s3://B/x", "lowercase"},
    {"s3://b@c/x", "authority"},
    {"s3://../x", "dots"},
    {"s3://b/", "empty path segment"},
    {"s3://b//x", "empty path segment"},
    {"s3://b/x/", "empty path segment"},
    {"s3://b/./x", "'.' and '..'"},
    {"s3://b/x/..", "'.' and '..'"},
    {"s3://b/x/...", "'.' and '..'"},
    {"s3://b/%2e%2e/x", "percent-encoding"},
    {"s3://b/a%2fb", "percent-encoding"},
    {"s3://b/a\\b", "backslash"},
    {"s3://b/a?b=1", "query"},
    {"s3://b/a#f", "fragment"},
    {"s3://b/a b", "spaces"},
    {"s3://b/a\x01", "control"},
    {"s3://b/\xc3\xa9", "non-ASCII"},
    {"s3://b/a;b", "not allowed in a path segment"},
    {"s3://b/$x", "not allowed in a path segment"},
};

TEST(GrantsValidate, TemplateTable) {
  for (const auto& c : kTemplateCases) {
    SCOPED_TRACE(c.resource);
    common::Status s = ValidateGrantTemplate({c.resource, {"read"}});
    if (c.error == nullptr) {
      EXPECT_TRUE(s.ok()) << s.ToString();
    } else {
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.kind(), common::ErrorKind::kInvalidArgument);
      EXPECT_NE(s.message().find(c.error), std::string::npos) << s.message();
      EXPECT_EQ(s.message().rfind("resource \"", 0), 0u) << s.message();
    }
  }
}

TEST(GrantsValidate, KindsDiffer) {
  // Placeholders: template only. Wildcards: template and grant. Neither: concrete.
  EXPECT_TRUE(ValidateGrantTemplate({"s3://b/{{x}}/*", {"read"}}).ok());
  EXPECT_FALSE(ValidateGrant({"s3://b/{{x}}/*", {"read"}}).ok());
  EXPECT_TRUE(ValidateGrant({"s3://b/x/*", {"read"}}).ok());
  EXPECT_TRUE(ValidateGrant({"s3://b/x/**", {"read"}}).ok());
  EXPECT_FALSE(ValidateConcreteResource("s3://b/x/*").ok());
  EXPECT_FALSE(ValidateConcreteResource("s3://b/{{x}}").ok());
  EXPECT_TRUE(ValidateConcreteResource("s3://b/x").ok());
  auto s = ValidateConcreteResource("s3://b/x/*");
  EXPECT_NE(s.message().find("concrete"), std::string::npos) << s.message();
}

TEST(GrantsValidate, Limits) {
  std::string long_resource = "s3://b/" + std::string(1020, 'a');
  EXPECT_FALSE(ValidateConcreteResource(long_resource).ok());
  EXPECT_TRUE(ValidateConcreteResource("s3://b/" + std::string(1000, 'a')).ok());
  std::string many = "s3://b";
  for (int i = 0; i < 64; ++i) many += "/a";
  EXPECT_TRUE(ValidateConcreteResource(many).ok());
  EXPECT_FALSE(ValidateConcreteResource(many + "/a").ok());
  EXPECT_FALSE(ValidateConcreteResource("s" + std::string(40, 'a') + "://b/x").ok());
}

TEST(GrantsValidate, Actions) {
  for (const char* good : {"read", "write", "list-objects", "put_object", "a", "v2"}) {
    EXPECT_TRUE(ValidateAction(good).ok()) << good;
  }
  for (const char* bad : {"", "Read", "1x", "-x", "_x", "re ad", "re.ad", "*", "read*", "r\xc3\xa9"}) {
    auto s = ValidateAction(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("[a-z][a-z0-9_-]*"), std::string::npos);
  }
  EXPECT_FALSE(ValidateAction(std::string(65, 'a')).ok());
  EXPECT_TRUE(ValidateAction(std::string(64, 'a')).ok());
  EXPECT_FALSE(ValidateGrantTemplate({"s3://b/x", {}}).ok());
  EXPECT_FALSE(ValidateGrantTemplate({"s3://b/x", {"read", "read"}}).ok());
  std::vector<std::string> many;
  for (int i = 0; i < 33; ++i) many.push_back("a" + std::to_string(i));
  EXPECT_FALSE(ValidateGrantTemplate({"s3://b/x", many}).ok());
}

TEST(GrantsShorthand, Parses) {
  auto g = ParseGrantShorthand("read,write s3://b/x/{{id}}");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g, (Grant{"s3://b/x/{{id}}", {"read", "write"}}));
  auto one = ParseGrantShorthand("read kv://db1/backup-user");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, (Grant{"kv://db1/backup-user", {"read"}}));
}

TEST(GrantsShorthand, ErrorsNameTheRule) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "ACTION[,ACTION] RESOURCE"},
      {"read", "ACTION[,ACTION] RESOURCE"},
      {"s3://b/x", "ACTION[,ACTION] RESOURCE"},
      {" read s3://b/x", "ACTION[,ACTION] RESOURCE"},
      {"read s3://b/x ", "whitespace"},
      {"read  s3://b/x", "whitespace"},
      {"read, write s3://b/x", "whitespace"},
      {"read\ts3://b/x", "ACTION[,ACTION] RESOURCE"},
      {"read,,write s3://b/x", "[a-z][a-z0-9_-]*"},
      {"read, s3://b/x", "[a-z][a-z0-9_-]*"},
      {"Read s3://b/x", "[a-z][a-z0-9_-]*"},
      {"* s3://b/x", "[a-z][a-z0-9_-]*"},
      {"read,read s3://b/x", "listed twice"},
      {"read s3://b/../x", "'.' and '..'"},
      {"read s3://b/x*", "whole segment"},
      {"read S3://b/x", "scheme"},
  };
  for (const auto& [text, rule] : cases) {
    SCOPED_TRACE(text);
    auto g = ParseGrantShorthand(text);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().kind(), common::ErrorKind::kInvalidArgument);
    EXPECT_NE(g.status().message().find(rule), std::string::npos) << g.status().message();
    EXPECT_EQ(g.status().message().rfind("grant \"", 0), 0u) << g.status().message();
  }
}

TEST(GrantsParse, AcceptedForms) {
  const std::vector<Grant> want = {{"s3://b/{{id}}", {"write"}}, {"kv://db1/u", {"read"}}};
  const json forms[] = {
      json::array({{{"resource", "s3://b/{{id}}"}, {"actions", {"write"}}},
                   {{"resource", "kv://db1/u"}, {"actions", {"read"}}}}),
      json::array({"write s3://b/{{id}}", "read kv://db1/u"}),
      json::array({{{"resource", "s3://b/{{id}}"}, {"actions", {"write"}}}, "read kv://db1/u"}),
      json(R"([{"resource":"s3://b/{{id}}","actions":["write"]},"read kv://db1/u"])"),
  };
  for (const auto& f : forms) {
    SCOPED_TRACE(f.dump());
    auto g = ParseGrants(f);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_EQ(*g, want);
  }
  auto single = ParseGrants(json("write s3://b/{{id}}"));
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(*single, std::vector<Grant>{want[0]});

  // Round trip through GrantsToJson.
  auto again = ParseGrants(GrantsToJson(want));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, want);
  EXPECT_EQ(GrantsToJson(want)[0], (json{{"resource", "s3://b/{{id}}"}, {"actions", {"write"}}}));
}

TEST(GrantsParse, ErrorsNameTheIndex) {
  const std::pair<json, const char*> cases[] = {
      {json::array(), "at least one grant"},
      {json(5), "must be a list"},
      {json(nullptr), "must be a list"},
      {json::object(), "must be a list"},
      {json("[1,"), "JSON array"},
      {json("[]"), "at least one grant"},
      {json::array({"read s3://b/x", 5}), "grants[1]: must be an object"},
      {json::array({"read s3://b/x", "read s3://b/x*"}), "grants[1]: grant \"read s3://b/x*\""},
      {json::array({{{"resource", "s3://b/x"}}}), "grants[0]: \"actions\" must be an array"},
      {json::array({{{"resource", "s3://b/x"}, {"actions", "read"}}}), "grants[0]: \"actions\" must be an array"},
      {json::array({{{"resource", "s3://b/x"}, {"actions", {1}}}}), "grants[0]: \"actions\" must be an array"},
      {json::array({{{"actions", {"read"}}}}), "grants[0]: \"resource\" must be a string"},
      {json::array({{{"resource", 1}, {"actions", {"read"}}}}), "grants[0]: \"resource\" must be a string"},
      {json::array({{{"resource", "s3://b/x"}, {"actions", {"read"}}, {"effect", "deny"}}}),
       "grants[0]: unknown member \"effect\""},
      {json::array({{{"resource", "s3://b/x/"}, {"actions", {"read"}}}}), "grants[0]: resource \"s3://b/x/\""},
      {json::array({{{"resource", "s3://b/x"}, {"actions", json::array()}}}), "grants[0]: actions: at least one"},
      {json("read"), "grants[0]: grant \"read\""},
  };
  for (const auto& [value, msg] : cases) {
    SCOPED_TRACE(value.dump());
    auto g = ParseGrants(value);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().kind(), common::ErrorKind::kInvalidArgument);
    EXPECT_NE(g.status().message().find(msg), std::string::npos) << g.status().message();
  }
  json too_many = json::array();
  for (int i = 0; i < 101; ++i) too_many.push_back("read s3://b/x");
  EXPECT_FALSE(ParseGrants(too_many).ok());
}

TEST(GrantsParse, RenderedGrants) {
  auto ok = ParseRenderedGrants(json::array({{{"resource", "s3://b/x/*"}, {"actions", {"read"}}}}));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 1u);
  EXPECT_FALSE(ParseRenderedGrants(json::array({{{"resource", "s3://b/{{x}}"}, {"actions", {"read"}}}})).ok());
  EXPECT_FALSE(ParseRenderedGrants(json::array({"read s3://b/x"})).ok());
  EXPECT_FALSE(ParseRenderedGrants(json("read s3://b/x")).ok());
}

TEST(GrantsHash, StableAndSensitive) {
  std::vector<Grant> a = {{"s3://b/x", {"read"}}};
  std::vector<Grant> b = {{"s3://b/x", {"write"}}};
  EXPECT_EQ(GrantsHash(a), GrantsHash(a));
  EXPECT_NE(GrantsHash(a), GrantsHash(b));
  EXPECT_EQ(GrantsHash(a).size(), 64u);
  // Pinned: the hash of the canonical JSON text below (sha256 of
  // [{"actions":["read"],"resource":"s3://b/x"}]).
  EXPECT_EQ(GrantsToJson(a).dump(), R"([{"actions":["read"],"resource":"s3://b/x"}])");
  EXPECT_EQ(GrantsHash(a), "d01130337b7e941e131900a81c67a03ca89af27f162e58aff4a1a4999b40bad0");
}

TEST(GrantsTemplate, PlaceholdersAndPrefix) {
  EXPECT_EQ(TemplatePlaceholders("s3://{{b}}/x/{{a}}-{{b}}/{{c.d}}"),
            (std::vector<std::string>{"b", "a", "c.d"}));
  EXPECT_TRUE(TemplatePlaceholders("s3://b/x").empty());
  EXPECT_EQ(LiteralPrefix("s3://b/db-{{id}}/x"), "s3://b/db-");
  EXPECT_EQ(LiteralPrefix("s3://b/x/*"), "s3://b/x/");
  EXPECT_EQ(LiteralPrefix("s3://b/x/**"), "s3://b/x/");
  EXPECT_EQ(LiteralPrefix("s3://b/*/{{id}}"), "s3://b/");
  EXPECT_EQ(LiteralPrefix("s3://b/x"), "s3://b/x");
  EXPECT_EQ(LiteralPrefix("s3://{{b}}/x"), "s3://");
}

PlaceholderLookup MapLookup(std::map<std::string, PlaceholderValue> values) {
  return [values = std::move(values)](std::string_view name) -> common::Result<PlaceholderValue> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return common::Status::InvalidArgument("missing value for " + std::string(name));
    return it->second;
  };
}

TEST(GrantsRender, SubstitutesAndChecks) {
  Grant tmpl{"s3://backups/db1/{{snapshot_id}}/*", {"write"}};
  auto r = RenderGrant(tmpl, MapLookup({{"snapshot_id", {"2024-01-01", false}}}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Grant{"s3://backups/db1/2024-01-01/*", {"write"}}));

  // Missing values: the lookup's own error passes through.
  auto missing = RenderGrant(tmpl, MapLookup({}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "missing value for snapshot_id");

  // Values that would widen or escape the grant.
  const std::pair<const char*, const char*> hostile[] = {
      {"", "must not be empty"},      {"*", "'*'"},           {"**", "'*'"},         {"a*", "'*'"},
      {"..", "'.' and '..'"},          {".", "'.' and '..'"},  {"a/b", "'/'"},        {"../x", "'/'"},
      {"%2f", "'%'"},                  {"a?b", "'?'"},         {"a#b", "'#'"},        {"a\\b", "'\\'"},
      {"a b", "spaces"},               {"A\x01", "control"},   {"{{x}}", "placeholders"},
  };
  for (const auto& [value, msg] : hostile) {
    SCOPED_TRACE(value);
    auto h = RenderGrant(tmpl, MapLookup({{"snapshot_id", {value, false}}}));
    ASSERT_FALSE(h.ok());
    EXPECT_NE(h.status().message().find(msg), std::string::npos) << h.status().message();
  }
}

TEST(GrantsRender, SpanningValuesStillChecked) {
  Grant tmpl{"s3://b/{{path}}", {"read"}};
  auto ok = RenderGrant(tmpl, MapLookup({{"path", {"db1/daily", true}}}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->resource, "s3://b/db1/daily");
  for (const char* bad : {"../x", "x/..", "x//y", "x/", "/x", "x/*", "x/%2e"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(RenderGrant(tmpl, MapLookup({{"path", {bad, true}}})).ok());
  }
  // Authority placeholders render under the authority rules.
  Grant host{"s3://{{bucket}}/x", {"read"}};
  EXPECT_TRUE(RenderGrant(host, MapLookup({{"bucket", {"b-1", false}}})).ok());
  EXPECT_FALSE(RenderGrant(host, MapLookup({{"bucket", {"B", false}}})).ok());
  EXPECT_FALSE(RenderGrant(host, MapLookup({{"bucket", {"a@b", false}}})).ok());
  // Invalid templates are refused before any lookup.
  EXPECT_FALSE(RenderGrant({"s3://b/x*", {"read"}}, MapLookup({})).ok());
}

}  // namespace
}  // namespace taskcred::grants
