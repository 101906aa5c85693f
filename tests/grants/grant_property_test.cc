// Property tests for the grant rules (docs/grants.md): thousands of random
// templates, renderings and requested resources from a seeded generator.
//
//  1. A rendering either fails or keeps the template's shape: same segment
//     count, literal and wildcard segments unchanged, placeholders filled
//     with non-empty text from the segment alphabet (never '*', '/', '%'...),
//     and the template's literal prefix kept.
//  2. Allows agrees with an independent oracle (an anchored std::regex built
//     from the pattern plus a regex for concrete resources).
//  3. Anything Allows accepts starts with the template's literal prefix, has
//     the template's segment count ('**': at least), and contains no '..',
//     '.', empty segment, '%', '\', '*', '{' or trailing '/'.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "grants/grant.h"

namespace taskcred::grants {
namespace {

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  size_t Below(size_t n) { return static_cast<size_t>(rng_() % n); }
  bool Chance(int percent) { return static_cast<int>(Below(100)) < percent; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Below(v.size())]; }

  // Non-empty, not all dots, from a small alphabet so that random resources
  // often collide with pattern literals.
  std::string Literal(std::string_view alphabet = "ab.-_") {
    while (true) {
      std::string s(1 + Below(3), 'a');
      for (auto& c : s) c = alphabet[Below(alphabet.size())];
      if (s.find_first_not_of('.') != std::string::npos) return s;
    }
  }

 private:
  std::mt19937 rng_;
};

const std::vector<std::string> kSchemes = {"s3", "kv", "gs"};

struct Template {
  Grant grant;
  std::vector<std::string> segments;  // template path segments
};

Template RandomTemplate(Gen& g) {
  Template t;
  std::string authority = g.Chance(15) ? "{{host}}" : g.Literal("bc");
  std::string r = g.Pick(kSchemes) + "://" + authority;
  size_t n = g.Below(5);
  for (size_t i = 0; i < n; ++i) {
    std::string seg;
    switch (g.Below(5)) {
      case 0: seg = "*"; break;
      case 1: seg = "{{p" + std::to_string(g.Below(3)) + "}}"; break;
      case 2: seg = g.Literal() + "{{p" + std::to_string(g.Below(3)) + "}}" + (g.Chance(50) ? g.Literal() : ""); break;
      default: seg = g.Literal(); break;
    }
    if (i + 1 == n && g.Chance(25)) seg = "**";
    t.segments.push_back(seg);
    r += "/" + seg;
  }
  t.grant = {r, {"read"}};
  if (g.Chance(50)) t.grant.actions.push_back("write");
  return t;
}

const std::vector<std::string> kHostileValues = {"", "*", "**", "a*", "..", ".", "a/b", "../x", "%2f", "%2e%2e",
                                                 "a?b", "a#b", "a\\b", "a b", "A", "{{x}}", "\t", "\xc3\xa9"};

bool HasForbiddenValueChar(const std::string& v) {
  return v.empty() || v.find_first_of(std::string(kWildcardChars) + std::string(kSeparatorChars)) != std::string::npos;
}

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    out.emplace_back(s.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

// Path segments of a resource "scheme://authority/a/b" -> {a, b}.
std::vector<std::string> PathSegments(const std::string& r) {
  std::string rest = r.substr(r.find("://") + 3);
  auto parts = Split(rest);
  parts.erase(parts.begin());
  return parts;
}

std::string RegexEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += c;
    } else {
      out += '[';
      out += c;
      out += ']';
    }
  }
  return out;
}

// --- The oracle: written independently of grants/resource.cc. ---

bool OracleConcrete(const std::string& r) {
  static const std::regex kShape(R"(^[a-z][a-z0-9+.\-]{0,31}://[a-z0-9._:\-]+(/[A-Za-z0-9._~:@+=,\-]+)*$)");
  if (r.size() > kMaxResourceBytes || !std::regex_match(r, kShape)) return false;
  auto parts = Split(r.substr(r.find("://") + 3));
  if (parts.size() - 1 > kMaxSegments) return false;
  for (const auto& p : parts) {
    if (p.find_first_not_of('.') == std::string::npos) return false;
  }
  return true;
}

std::regex OraclePattern(const std::string& pattern) {
  size_t sep = pattern.find("://");
  auto parts = Split(pattern.substr(sep + 3));
  std::string re = RegexEscape(pattern.substr(0, sep + 3)) + RegexEscape(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i] == "*") {
      re += "/[^/]+";
    } else if (parts[i] == "**") {
      re += "(/[^/]+)+";
    } else {
      re += "/" + RegexEscape(parts[i]);
    }
  }
  return std::regex(re);
}

// A resource the rendered pattern should allow: wildcards filled in.
std::string Instantiate(Gen& g, const std::string& pattern) {
  size_t sep = pattern.find("://");
  auto parts = Split(pattern.substr(sep + 3));
  std::string r = pattern.substr(0, sep + 3) + parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i] == "*") {
      r += "/" + g.Literal();
    } else if (parts[i] == "**") {
      size_t n = 1 + g.Below(3);
      for (size_t k = 0; k < n; ++k) r += "/" + g.Literal();
    } else {
      r += "/" + parts[i];
    }
  }
  return r;
}

const std::vector<std::string> kInjections = {"..", ".", "", "%2f", "%2e%2e", "%2F", "x%2fy", "\\", "*", "**",
                                              "a*", "{{p0}}", "...", "a b", "A", "a?b"};

std::string Mutate(Gen& g, std::string r) {
  size_t sep = r.find("://");
  switch (g.Below(9)) {
    case 0: return r + "/" + g.Literal();                           // deeper
    case 1: return r + "/";                                          // trailing slash
    case 2: return r + g.Literal("ab");                              // longer last segment
    case 3: {                                                        // drop the last segment
      size_t last = r.rfind('/');
      return last > sep + 2 ? r.substr(0, last) : r;
    }
    case 4: {                                                        // inject a hostile segment
      std::vector<size_t> slashes;
      for (size_t i = sep + 3; i < r.size(); ++i) {
        if (r[i] == '/') slashes.push_back(i);
      }
      size_t at = slashes.empty() ? r.size() : g.Pick(slashes);
      return r.substr(0, at) + "/" + g.Pick(kInjections) + r.substr(at);
    }
    case 5: {                                                        // flip one character's case
      size_t i = g.Below(r.size());
      char c = r[i];
      if (c >= 'a' && c <= 'z') r[i] = static_cast<char>(c - 32);
      return r;
    }
    case 6: r.replace(0, sep, g.Pick(kSchemes)); return r;           // another scheme
    case 7: {                                                        // another authority
      size_t end = r.find('/', sep + 3);
      return r.substr(0, sep + 3) + g.Literal("bc") + (end == std::string::npos ? "" : r.substr(end));
    }
    default: {                                                       // replace a random character
      const std::string chars = "ab./-%*\\_~2fA";
      r[g.Below(r.size())] = chars[g.Below(chars.size())];
      return r;
    }
  }
}

void CheckAllowedShape(const Template& t, const std::string& r) {
  std::string_view prefix = LiteralPrefix(t.grant.resource);
  ASSERT_EQ(r.substr(0, prefix.size()), prefix) << r << " outside " << t.grant.resource;
  auto segs = PathSegments(r);
  bool rest = !t.segments.empty() && t.segments.back() == "**";
  if (rest) {
    ASSERT_GE(segs.size(), t.segments.size()) << r;
  } else {
    ASSERT_EQ(segs.size(), t.segments.size()) << r;
  }
  for (size_t i = 0; i < t.segments.size() && i < segs.size(); ++i) {
    const std::string& ts = t.segments[i];
    if (ts != "*" && ts != "**" && ts.find("{{") == std::string::npos) {
      ASSERT_EQ(segs[i], ts) << r;
    }
  }
  for (const auto& s : segs) {
    ASSERT_FALSE(s.empty()) << r;
    ASSERT_NE(s.find_first_not_of('.'), std::string::npos) << r;
  }
  ASSERT_EQ(r.find_first_of("%\\*{}?# "), std::string::npos) << r;
  ASSERT_EQ(r.find("//", r.find("://") + 3), std::string::npos) << r;
  ASSERT_NE(r.back(), '/') << r;
}

TEST(GrantsProperty, RenderingKeepsTheTemplateShape) {
  Gen g(20261128);
  int rendered = 0, refused = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    Template t = RandomTemplate(g);
    ASSERT_TRUE(ValidateGrantTemplate(t.grant).ok()) << t.grant.resource;
    std::map<std::string, std::string> values;
    bool hostile = false;
    for (const auto& name : TemplatePlaceholders(t.grant.resource)) {
      std::string v = g.Chance(20) ? g.Pick(kHostileValues) : g.Literal("ab-");
      hostile = hostile || HasForbiddenValueChar(v);
      values[name] = v;
    }
    auto r = RenderGrant(t.grant, [&](std::string_view name) -> common::Result<PlaceholderValue> {
      return PlaceholderValue{values.at(std::string(name)), false};
    });
    if (!r.ok()) {
      ++refused;
      continue;
    }
    ++rendered;
    ASSERT_FALSE(hostile) << "a value with a wildcard/separator rendered: " << r->resource;
    ASSERT_TRUE(ValidateGrant(*r).ok()) << r->resource;
    ASSERT_EQ(r->actions, t.grant.actions);
    std::string_view prefix = LiteralPrefix(t.grant.resource);
    ASSERT_EQ(r->resource.substr(0, prefix.size()), prefix);
    auto segs = PathSegments(r->resource);
    ASSERT_EQ(segs.size(), t.segments.size()) << r->resource;
    for (size_t i = 0; i < segs.size(); ++i) {
      const std::string& ts = t.segments[i];
      if (ts.find("{{") == std::string::npos) {
        ASSERT_EQ(segs[i], ts) << r->resource;  // literal and wildcard segments unchanged
      } else {
        ASSERT_EQ(segs[i].find('*'), std::string::npos) << r->resource;  // no wildcard smuggled in
        // The rendered segment is the template segment with each
        // placeholder replaced by non-empty segment-alphabet text.
        std::string re;
        for (size_t k = 0; k < ts.size();) {
          if (ts.compare(k, 2, "{{") == 0) {
            re += "[A-Za-z0-9._~:@+=,\\-]+";
            k = ts.find("}}", k) + 2;
          } else {
            re += RegexEscape(ts.substr(k, 1));
            ++k;
          }
        }
        ASSERT_TRUE(std::regex_match(segs[i], std::regex(re))) << segs[i] << " vs " << ts;
      }
    }
  }
  // The generator must exercise both outcomes.
  EXPECT_GT(rendered, 2000);
  EXPECT_GT(refused, 300);
}

TEST(GrantsProperty, AllowsAgreesWithOracleAndStaysInsideTheTemplate) {
  Gen g(42);
  int allowed = 0, denied = 0, checked = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    Template t = RandomTemplate(g);
    auto r = RenderGrant(t.grant, [&](std::string_view) -> common::Result<PlaceholderValue> {
      return PlaceholderValue{g.Literal("ab-"), false};
    });
    ASSERT_TRUE(r.ok()) << t.grant.resource << ": " << r.status().ToString();
    const std::vector<Grant> grants = {*r};
    const std::regex oracle = OraclePattern(r->resource);

    std::vector<std::string> candidates;
    for (int k = 0; k < 4; ++k) {
      std::string base = Instantiate(g, r->resource);
      ASSERT_TRUE(Allows(grants, base, "read")) << base << " under " << r->resource;
      ASSERT_FALSE(Allows(grants, base, "delete"));
      candidates.push_back(base);
      for (int m = 0; m < 5; ++m) {
        std::string mutated = Mutate(g, base);
        if (g.Chance(30)) mutated = Mutate(g, mutated);
        candidates.push_back(mutated);
      }
    }
    for (const auto& c : candidates) {
      ++checked;
      bool got = Allows(grants, c, "read");
      bool want = OracleConcrete(c) && std::regex_match(c, oracle);
      ASSERT_EQ(got, want) << "resource " << c << " pattern " << r->resource;
      ASSERT_EQ(MatchesResource(r->resource, c), want);
      if (got) {
        ++allowed;
        CheckAllowedShape(t, c);
      } else {
        ++denied;
      }
    }
  }
  EXPECT_GT(checked, 50000);
  EXPECT_GT(allowed, 12000);
  EXPECT_GT(denied, 12000);
}

TEST(GrantsProperty, HostileResourcesAreNeverAllowed) {
  // The broadest grants we have; every resource below carries a traversal,
  // an encoding, an empty segment or a wildcard somewhere.
  const std::vector<Grant> grants = {{"s3://b/**", {"read"}}, {"s3://b/*", {"read"}}, {"kv://c/*/**", {"read"}}};
  const std::vector<std::string> hostile = {"..", ".", "", "%2f", "%2F", "%2e", "%2e%2e", "x%2fy", "\\", "x\\..",
                                            "*", "**", "x*", "...", "{{p}}", "%00", "x\x00y", "x\ny"};
  Gen g(7);
  int checked = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string r = g.Chance(50) ? "s3://b" : "kv://c";
    size_t n = 1 + g.Below(5);
    size_t bad_at = g.Below(n);
    for (size_t i = 0; i < n; ++i) {
      r += "/";
      if (i == bad_at) {
        std::string h = g.Pick(hostile);
        // Either the whole segment or embedded in literal text.
        r += g.Chance(50) ? h : g.Literal("ab") + h + g.Literal("ab");
      } else {
        r += g.Literal();
      }
    }
    if (g.Chance(10)) r += "/";
    // Embedding may produce a harmless segment ("a.b", "a...b"); only check
    // resources that really carry a forbidden construct.
    auto segs = PathSegments(r);
    bool forbidden = r.find_first_of("%\\*{}\n") != std::string::npos || r.find('\0') != std::string::npos;
    for (const auto& s : segs) forbidden = forbidden || s.find_first_not_of('.') == std::string::npos;
    if (!forbidden) continue;
    ++checked;
    ASSERT_FALSE(Allows(grants, r, "read")) << r;
    ASSERT_FALSE(ValidateConcreteResource(r).ok()) << r;
  }
  EXPECT_GT(checked, 15000);
}

}  // namespace
}  // namespace taskcred::grants
