// The narrowing property (delegation), shared by the grants tests (a fixed
// seed in CI) and taskcred-bench --narrowing (a long run): for random parent
// grants and random child requests drawn near them, every child
// CheckNarrower accepts allows, on random resources and actions, nothing
// the parent does not (Allows, the verifier's own rule).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "grants/grant.h"

namespace taskcred::grants::proptest {

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  size_t Below(size_t n) { return static_cast<size_t>(rng_() % n); }
  bool Chance(int percent) { return static_cast<int>(Below(100)) < percent; }
  // Short literals from a tiny alphabet, so that patterns and resources
  // collide often ("a" vs "aa": the prefix trick).
  std::string Literal() { return std::string(1 + Below(2), "ab"[Below(2)]); }
  std::string Segment(bool last) {
    if (last && Chance(20)) return "**";
    return Chance(30) ? "*" : Literal();
  }
  std::string Pattern() {
    std::string r = std::string(Chance(85) ? "s3" : "gs") + "://" + (Chance(85) ? "b" : "c");
    size_t n = Below(4);
    for (size_t i = 0; i < n; ++i) r += "/" + Segment(i + 1 == n);
    return r;
  }
  std::vector<std::string> Actions() {
    static const std::vector<std::string> kAll = {"read", "write", "list"};
    std::vector<std::string> out;
    for (const auto& a : kAll) {
      if (Chance(45)) out.push_back(a);
    }
    if (out.empty()) out.push_back(kAll[Below(kAll.size())]);
    return out;
  }
  // A child grant drawn near a parent grant: a copy with segments made
  // literal, widened, cut or extended, or a fresh random pattern.
  Grant Near(const std::vector<Grant>& parent) {
    if (parent.empty() || Chance(20)) return {Pattern(), Actions()};
    const Grant& p = parent[Below(parent.size())];
    std::string prefix = p.resource.substr(0, p.resource.find("://") + 3);
    std::string rest = p.resource.substr(prefix.size());
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      size_t slash = rest.find('/', start);
      parts.push_back(rest.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    for (size_t i = 1; i < parts.size(); ++i) {
      if (Chance(40)) parts[i] = parts[i] == "**" ? (Chance(50) ? "*" : Literal() + "/**") : Literal();
      else if (Chance(15)) parts[i] = parts[i] == "*" ? "**" : "*";
    }
    if (Chance(15)) parts.push_back(Chance(50) ? Literal() : "**");
    if (Chance(10) && parts.size() > 1) parts.pop_back();
    std::string r = prefix + parts[0];
    for (size_t i = 1; i < parts.size(); ++i) r += "/" + parts[i];
    std::vector<std::string> actions = p.actions;
    if (Chance(30)) actions = Actions();
    else if (actions.size() > 1 && Chance(40)) actions.pop_back();
    return {r, actions};
  }
  // A concrete resource drawn near a pattern.
  std::string Resource(const std::string& pattern) {
    std::string r = pattern.substr(0, pattern.find("://") + 3);
    std::string rest = pattern.substr(r.size());
    size_t slash = rest.find('/');
    r += rest.substr(0, slash);
    while (slash != std::string::npos) {
      size_t next = rest.find('/', slash + 1);
      std::string seg = rest.substr(slash + 1, next == std::string::npos ? std::string::npos : next - slash - 1);
      if (seg == "**") {
        for (size_t k = 0, n = 1 + Below(3); k < n; ++k) r += "/" + Literal();
      } else {
        r += "/" + (seg == "*" || Chance(10) ? Literal() : seg);
      }
      slash = next;
    }
    if (Chance(10)) r += "/" + Literal();
    return r;
  }

 private:
  std::mt19937 rng_;
};

struct NarrowingRun {
  uint64_t rounds = 0;
  uint64_t accepted = 0;  // children CheckNarrower accepted
  uint64_t refused = 0;
  uint64_t checks = 0;    // (resource, action) pairs compared
  std::string failure;    // empty, or the first counterexample
};

// Runs `rounds` rounds from `seed`; stops at the first counterexample.
inline NarrowingRun RunNarrowingProperty(uint32_t seed, uint64_t rounds) {
  Gen g(seed);
  NarrowingRun run;
  for (uint64_t round = 0; round < rounds; ++round) {
    ++run.rounds;
    std::vector<Grant> parent;
    for (size_t i = 0, n = 1 + g.Below(3); i < n; ++i) parent.push_back({g.Pattern(), g.Actions()});
    std::vector<Grant> child;
    for (size_t i = 0, n = 1 + g.Below(3); i < n; ++i) child.push_back(g.Near(parent));
    if (!CheckNarrower(parent, child).ok()) {
      ++run.refused;
      continue;
    }
    ++run.accepted;
    for (int probe = 0; probe < 40; ++probe) {
      const Grant& from = probe % 2 == 0 ? child[g.Below(child.size())] : parent[g.Below(parent.size())];
      std::string resource = g.Resource(from.resource);
      for (const char* action : {"read", "write", "list"}) {
        ++run.checks;
        if (Allows(child, resource, action) && !Allows(parent, resource, action)) {
          run.failure = "seed " + std::to_string(seed) + " round " + std::to_string(round) + ": the child allows " +
                        action + " on " + resource + "\nparent: " + GrantsToJson(parent).dump() +
                        "\nchild: " + GrantsToJson(child).dump();
          return run;
        }
      }
    }
  }
  return run;
}

}  // namespace taskcred::grants::proptest
