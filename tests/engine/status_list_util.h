// Reading the status lists an engine serves, for the engine tests.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "crypto/encoding.h"
#include "crypto/jwt.h"
#include "engine_harness.h"
#include "statuslist/status_list.h"

namespace taskcred::test {

// The raw status/<list_id> response, checked and decoded: the JWT verified
// against the mount's JWKS, its bits inflated.
struct ServedList {
  nlohmann::json header;
  nlohmann::json claims;
  statuslist::BitList bits{0};
  std::string cache_control;
};

inline ServedList Serve(EngineHarness& h, const std::string& list_id) {
  auto r = h.Read("status/" + list_id);
  EXPECT_TRUE(r.ok() && r->has_value()) << r.status().ToString();
  if (!r.ok() || !r->has_value()) return {};
  const nlohmann::json& d = (*r)->data;
  EXPECT_EQ(d["http_status_code"], 200);
  EXPECT_EQ(d["http_content_type"], "application/statuslist+jwt");
  auto body = crypto::Base64Decode(d["http_raw_body"].get<std::string>());
  EXPECT_TRUE(body.ok());
  auto jwt = crypto::DecodeJwt(*body, 64 * 1024);
  EXPECT_TRUE(jwt.ok()) << jwt.status().ToString();
  if (!jwt.ok()) return {};
  EXPECT_TRUE(crypto::VerifyJwtSignature(*jwt, h.Jwks()).ok());
  auto bits = statuslist::Decode(jwt->claims["status_list"]);
  EXPECT_TRUE(bits.ok()) << bits.status().ToString();
  return {jwt->header, jwt->claims, bits.ok() ? *bits : statuslist::BitList(0),
          d["http_raw_cache_control"].get<std::string>()};
}

struct StatusRef {
  std::string list_id;
  uint32_t idx = 0;
  std::string uri;
};

inline StatusRef StatusOf(const std::string& credential) {
  auto jwt = crypto::DecodeJwt(credential);
  EXPECT_TRUE(jwt.ok());
  const nlohmann::json& sl = jwt->claims.at("status").at("status_list");
  std::string uri = sl.at("uri");
  return {uri.substr(uri.rfind('/') + 1), sl.at("idx").get<uint32_t>(), uri};
}

// The bit of `credential`'s slot in the list served now.
inline bool Revoked(EngineHarness& h, const std::string& credential) {
  StatusRef ref = StatusOf(credential);
  return Serve(h, ref.list_id).bits.Get(ref.idx);
}

}  // namespace taskcred::test
