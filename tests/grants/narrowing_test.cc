// Narrowing (delegation): PatternCovers and CheckNarrower.
//
// Pinned cases first (wildcard vs literal, "*" vs "**", prefix tricks,
// action sets, invalid text), then the property the engine relies on: for
// random parent grants and random child requests, every child CheckNarrower
// accepts allows, on random resources and actions, nothing the parent does
// not (checked with Allows, the verifier's own rule). A fixed seed runs in
// CI; TASKCRED_NARROWING_SEED / TASKCRED_NARROWING_ROUNDS run it longer
// (taskcred-bench --narrowing runs it long: BENCHMARKS.md).
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "grants/grant.h"
#include "narrowing_property.h"

namespace taskcred::grants {
namespace {

TEST(PatternCoversTest, LiteralsWildcardsAndRest) {
  EXPECT_TRUE(PatternCovers("s3://b/db1", "s3://b/db1"));
  EXPECT_FALSE(PatternCovers("s3://b/db1", "s3://b/db10"));  // prefix trick
  EXPECT_FALSE(PatternCovers("s3://b/db10", "s3://b/db1"));
  EXPECT_FALSE(PatternCovers("s3://b/db1", "s3://b/db1/x"));
  EXPECT_TRUE(PatternCovers("s3://b/*", "s3://b/db1"));
  EXPECT_TRUE(PatternCovers("s3://b/*", "s3://b/*"));
  EXPECT_FALSE(PatternCovers("s3://b/db1", "s3://b/*"));  // literal never covers a wildcard
  EXPECT_FALSE(PatternCovers("s3://b/*", "s3://b/**"));   // "*" -> "**" is wider
  EXPECT_FALSE(PatternCovers("s3://b/*", "s3://b/x/y"));
  EXPECT_TRUE(PatternCovers("s3://b/**", "s3://b/x/y/z"));
  EXPECT_TRUE(PatternCovers("s3://b/**", "s3://b/*/**"));
  EXPECT_TRUE(PatternCovers("s3://b/**", "s3://b/**"));
  EXPECT_TRUE(PatternCovers("s3://b/**", "s3://b/*"));
  EXPECT_FALSE(PatternCovers("s3://b/**", "s3://b"));  // "**" is one or more
  EXPECT_FALSE(PatternCovers("s3://b/x/**", "s3://b/**"));
  EXPECT_TRUE(PatternCovers("s3://b/*/logs", "s3://b/db1/logs"));
  EXPECT_FALSE(PatternCovers("s3://b/*/logs", "s3://b/db1/log"));
  EXPECT_FALSE(PatternCovers("s3://b/x", "gs://b/x"));
  EXPECT_FALSE(PatternCovers("s3://b/x", "s3://bb/x"));
  EXPECT_FALSE(PatternCovers("s3://b/x", "s3://b/X"));  // paths are case-sensitive
  EXPECT_TRUE(PatternCovers("s3://b", "s3://b"));
  EXPECT_FALSE(PatternCovers("s3://b", "s3://b/x"));
}

TEST(PatternCoversTest, InvalidTextCoversNothing) {
  EXPECT_FALSE(PatternCovers("s3://b/{{id}}", "s3://b/{{id}}"));  // placeholders are for role templates
  EXPECT_FALSE(PatternCovers("s3://b/**", "s3://b/../x"));
  EXPECT_FALSE(PatternCovers("s3://b/**", "s3://b/x%2f"));
  EXPECT_FALSE(PatternCovers("s3://b/x*", "s3://b/x1"));
  EXPECT_FALSE(PatternCovers("s3://b/**", "s3://b/**/x"));
  EXPECT_FALSE(PatternCovers("", ""));
}

TEST(CheckNarrowerTest, ActionsMustBeGranted) {
  std::vector<Grant> parent = {{"s3://b/db1/*", {"read", "write"}}, {"kv://v/app/**", {"read"}}};
  EXPECT_TRUE(CheckNarrower(parent, {{"s3://b/db1/x", {"read"}}}).ok());
  EXPECT_TRUE(CheckNarrower(parent, {{"s3://b/db1/*", {"write", "read"}}, {"kv://v/app/a/b", {"read"}}}).ok());
  common::Status s = CheckNarrower(parent, {{"s3://b/db1/x", {"read"}}, {"kv://v/app/a", {"write"}}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), common::ErrorKind::kInvalidArgument);
  EXPECT_NE(s.message().find("grants[1]"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("\"write\""), std::string::npos) << s.message();
  s = CheckNarrower(parent, {{"s3://b/db10/x", {"read"}}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("grants[0]"), std::string::npos) << s.message();
}

TEST(CheckNarrowerTest, EachActionMayComeFromItsOwnParentGrant) {
  // read from one grant, write from another: still nothing the parent lacks.
  std::vector<Grant> parent = {{"s3://b/x/*", {"read"}}, {"s3://b/*/y", {"write"}}};
  EXPECT_TRUE(CheckNarrower(parent, {{"s3://b/x/y", {"read", "write"}}}).ok());
  EXPECT_FALSE(CheckNarrower(parent, {{"s3://b/x/z", {"read", "write"}}}).ok());
}

TEST(CheckNarrowerTest, RefusesInvalidOrTooManyChildGrants) {
  std::vector<Grant> parent = {{"s3://b/**", {"read"}}};
  EXPECT_FALSE(CheckNarrower(parent, {}).ok());
  std::vector<Grant> many(kMaxGrants + 1, Grant{"s3://b/x", {"read"}});
  EXPECT_FALSE(CheckNarrower(parent, many).ok());
  common::Status s = CheckNarrower(parent, {{"s3://b/{{id}}", {"read"}}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("placeholders"), std::string::npos) << s.message();
  EXPECT_FALSE(CheckNarrower(parent, {{"s3://b/x", {"Read"}}}).ok());
  EXPECT_FALSE(CheckNarrower(parent, {{"s3://b/x", {"read", "read"}}}).ok());
  // An invalid parent grant covers nothing.
  EXPECT_FALSE(CheckNarrower({{"s3://b/{{id}}", {"read"}}}, {{"s3://b/x", {"read"}}}).ok());
}

uint32_t EnvOr(const char* name, uint32_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? static_cast<uint32_t>(std::strtoul(v, nullptr, 10)) : fallback;
}

TEST(NarrowingPropertyTest, AcceptedChildrenAllowNothingTheParentDoesNot) {
  const uint32_t seed = EnvOr("TASKCRED_NARROWING_SEED", 20261208);
  const uint32_t rounds = EnvOr("TASKCRED_NARROWING_ROUNDS", 4000);
  proptest::NarrowingRun run = proptest::RunNarrowingProperty(seed, rounds);
  ASSERT_TRUE(run.failure.empty()) << run.failure;
  // The generator must exercise both answers, or the property says nothing.
  EXPECT_GT(run.accepted, rounds / 10) << "accepted " << run.accepted;
  EXPECT_GT(run.refused, rounds / 10) << "refused " << run.refused;
}

TEST(NarrowingPropertyTest, TheParentAndItsLiteralInstancesAreAlwaysNarrowEnough) {
  // The other direction, so that CheckNarrower cannot pass the first test
  // by refusing everything: a copy of the parent, and each parent grant with
  // its wildcards filled in, are accepted.
  proptest::Gen g(EnvOr("TASKCRED_NARROWING_SEED", 20261208) + 1);
  for (int round = 0; round < 2000; ++round) {
    std::vector<Grant> parent;
    for (size_t i = 0, n = 1 + g.Below(3); i < n; ++i) parent.push_back({g.Pattern(), g.Actions()});
    ASSERT_TRUE(CheckNarrower(parent, parent).ok()) << GrantsToJson(parent).dump();
    const Grant& p = parent[g.Below(parent.size())];
    std::string concrete = g.Resource(p.resource);
    if (!MatchesResource(p.resource, concrete)) continue;  // the generator's extra segment
    common::Status s = CheckNarrower(parent, {{concrete, {p.actions.front()}}});
    ASSERT_TRUE(s.ok()) << s.message() << " " << concrete << " under " << p.resource;
  }
}

}  // namespace
}  // namespace taskcred::grants
