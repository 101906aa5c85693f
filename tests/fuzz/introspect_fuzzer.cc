// Fuzz target (d): credential parsing in introspection.
//
// An engine backend (engine::NewBackend over InmemStorage and a fake
// SystemView, as tests/engine drives it) is configured once, issues one JWT
// and one opaque credential, and publishes its JWKS. Each input is
//   line 1: the token; "@jwt<suffix>" / "@opaque<suffix>" stand for the live
//           credential with <suffix> appended (so seeds reach the claim and
//           grant checks of a genuine token);
//   rest:   optional JSON object of extra introspect fields (resource,
//           action, consume, ...).
// The token goes through crypto::DecodeJwt, crypto::DecodeAndVerifyJwt with
// the engine's JWKS, and the engine's `introspect` endpoint.
// Invariants: a decoded JWT has object header/claims, a string alg, a
// non-empty signature and a signing input that prefixes the token; only the
// live JWT verifies (no malleable encodings); introspection reports
// active=true only for a live credential; errors are Status, never crashes.
#include <cstddef>
#include <cstdint>

#include "../engine/engine_harness.h"
#include "crypto/jwt.h"
#include "fuzz_util.h"

namespace crypto = taskcred::crypto;
namespace lg = taskcred::logical;
using nlohmann::json;

namespace {

struct World {
  taskcred::test::EngineHarness h;
  std::string jwt;
  std::string opaque;
  json jwks;
};

std::string IssueCredential(taskcred::test::EngineHarness& h, const std::string& role) {
  auto r = h.Read("creds/" + role);
  TC_FUZZ_CHECK(r.ok() && r->has_value(), "issuing creds/" + role + ": " + r.status().ToString());
  return (*r)->data.at("credential").get<std::string>();
}

World& GetWorld() {
  static World* w = [] {
    auto* world = new World();
    auto& h = world->h;
    TC_FUZZ_CHECK(h.Write("config", {{"signing_algorithm", "ES256"}, {"issuer", "https://v.example/taskcred"}}).ok(),
                  "config");
    TC_FUZZ_CHECK(h.Write("roles/r", {{"task", "t"}, {"grants", {"read,write kv://db1/*", "read s3://b/x/**"}},
                                      {"bind_entity", false}})
                      .ok(),
                  "role r");
    TC_FUZZ_CHECK(h.Write("roles/o", {{"task", "t"}, {"grants", {"read kv://a/b"}}, {"credential_type", "opaque"},
                                      {"bind_entity", false}})
                      .ok(),
                  "role o");
    world->jwt = IssueCredential(h, "r");
    world->opaque = IssueCredential(h, "o");
    world->jwks = h.Jwks();
    return world;
  }();
  return *w;
}

std::string ExpandToken(const World& w, std::string_view line) {
  if (line.substr(0, 4) == "@jwt") return w.jwt + std::string(line.substr(4));
  if (line.substr(0, 7) == "@opaque") return w.opaque + std::string(line.substr(7));
  return std::string(line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = GetWorld();
  auto parts = taskcred::fuzz::SplitLines(taskcred::fuzz::AsView(data, size), 1);
  const std::string token = ExpandToken(w, parts[0]);

  auto decoded = crypto::DecodeJwt(token);
  if (decoded.ok()) {
    TC_FUZZ_CHECK(decoded->header.is_object() && decoded->claims.is_object(), "decoded header/claims not objects");
    TC_FUZZ_CHECK(decoded->header.contains("alg") && decoded->header["alg"].is_string(), "decoded alg not a string");
    TC_FUZZ_CHECK(!decoded->signature.empty(), "decoded empty signature");
    TC_FUZZ_CHECK(token.compare(0, decoded->signing_input.size(), decoded->signing_input) == 0,
                  "signing input is not a prefix of the token");
    (void)crypto::VerifyJwtSignature(*decoded, w.jwks);
  }
  auto verified = crypto::DecodeAndVerifyJwt(token, w.jwks);
  if (verified.ok()) TC_FUZZ_CHECK(token == w.jwt, "a token other than the live JWT verified");

  json extra = parts[1].empty() ? json::object() : taskcred::fuzz::ParseJson(parts[1]);
  if (!extra.is_object()) extra = json::object();
  extra["token"] = token;
  auto r = w.h.Write("introspect", extra);
  if (r.ok() && r->has_value()) {
    const json& out = (*r)->data;
    (void)taskcred::fuzz::SafeDump(out);
    if (out.is_object() && out.contains("active") && out["active"] == true) {
      TC_FUZZ_CHECK(token == w.jwt || token == w.opaque, "introspect reports a forged token active");
    }
  }
  return 0;
}
