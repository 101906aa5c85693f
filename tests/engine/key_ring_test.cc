// KeyRing::VerifyJwt: signature checks with the public keys the ring caches
// per kid, and that every ring change (rotate, algorithm change, retirement
// past expiry, prune, Invalidate) reaches that cache.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crypto/jwt.h"
#include "crypto/signing_key.h"
#include "engine/key_ring.h"
#include "logical/inmem_storage.h"

namespace taskcred::test {
namespace {

using engine::ConfigEntry;
using engine::KeyRecord;
using engine::KeyRing;
using nlohmann::json;

class KeyRingVerifyTest : public ::testing::Test {
 protected:
  KeyRingVerifyTest() : ring_(MakeClock()) { config_.verification_ttl = 3600; }

  engine::Clock MakeClock() {
    return [this] { return engine::FromUnixSeconds(now_.load()); };
  }

  // The stored ring's key in the given state ("active" / "next").
  KeyRecord StoredKey(bool active) {
    auto state = ring_.Load(storage_);
    EXPECT_TRUE(state.ok() && state->has_value());
    if (!state.ok() || !state->has_value()) return {};
    const KeyRecord* k = active ? (*state)->Active() : (*state)->Next();
    EXPECT_NE(k, nullptr);
    return k ? *k : KeyRecord{};
  }

  // A decoded JWT signed by `k` (any ring key, also one that does not sign yet).
  crypto::DecodedJwt SignedWith(const KeyRecord& k) {
    auto alg = crypto::ParseAlgorithm(k.alg);
    EXPECT_TRUE(alg.ok());
    auto key = crypto::SigningKey::FromPrivatePem(*alg, k.private_pem);
    EXPECT_TRUE(key.ok());
    auto token = crypto::SignJwt(*key, k.kid, json{{"jti", "x"}, {"exp", now_.load() + 60}});
    EXPECT_TRUE(token.ok());
    auto decoded = crypto::DecodeJwt(*token);
    EXPECT_TRUE(decoded.ok());
    return *decoded;
  }

  common::Status Verify(KeyRing& ring, const crypto::DecodedJwt& jwt) { return ring.VerifyJwt(storage_, config_, jwt); }

  std::atomic<int64_t> now_{1'800'000'000};
  logical::InmemStorage storage_;
  ConfigEntry config_;
  KeyRing ring_;
};

TEST_F(KeyRingVerifyTest, RefusesWhatVerifyJwtSignatureRefuses) {
  ASSERT_TRUE(ring_.ActiveSigningKey(storage_, config_).ok());
  const crypto::DecodedJwt good = SignedWith(StoredKey(true));
  EXPECT_TRUE(Verify(ring_, good).ok());

  struct Case {
    const char* name;
    std::function<void(crypto::DecodedJwt&)> mutate;
  };
  const std::vector<Case> cases = {
      {"unknown kid", [](crypto::DecodedJwt& j) { j.header["kid"] = "not-a-ring-kid"; }},
      {"kid missing", [](crypto::DecodedJwt& j) { j.header.erase("kid"); }},
      {"alg switched to another ring algorithm", [](crypto::DecodedJwt& j) { j.header["alg"] = "ES256"; }},
      {"alg none", [](crypto::DecodedJwt& j) { j.header["alg"] = "none"; }},
      {"alg not a string", [](crypto::DecodedJwt& j) { j.header["alg"] = 1; }},
      {"signature altered", [](crypto::DecodedJwt& j) { j.signature[0] = static_cast<char>(j.signature[0] ^ 1); }},
      {"signing input altered", [](crypto::DecodedJwt& j) { j.signing_input += "x"; }},
      {"signature truncated", [](crypto::DecodedJwt& j) { j.signature.pop_back(); }},
  };
  for (const auto& c : cases) {
    crypto::DecodedJwt bad = good;
    c.mutate(bad);
    common::Status s = Verify(ring_, bad);
    EXPECT_EQ(s.kind(), common::ErrorKind::kPermissionDenied) << c.name << ": " << s.ToString();
  }
}

TEST_F(KeyRingVerifyTest, RotateReachesTheCachedKeys) {
  ASSERT_TRUE(ring_.ActiveSigningKey(storage_, config_).ok());
  const crypto::DecodedJwt first = SignedWith(StoredKey(true));
  ASSERT_TRUE(Verify(ring_, first).ok());  // the ring (and its verifiers) are cached now
  auto change = ring_.Rotate(storage_, config_);
  ASSERT_TRUE(change.ok());
  // The fresh next key exists only since the rotation: verifying with it
  // proves the cache was rebuilt.
  const KeyRecord fresh = StoredKey(false);
  ASSERT_EQ(fresh.kid, change->next_kid);
  EXPECT_TRUE(Verify(ring_, SignedWith(fresh)).ok());
  EXPECT_TRUE(Verify(ring_, first).ok());  // retired, within verification_ttl
  // Retired past expires_at: refused at once, before any prune...
  now_ += 3600;
  EXPECT_EQ(Verify(ring_, first).kind(), common::ErrorKind::kPermissionDenied);
  // ...and after the prune too.
  auto maintained = ring_.Maintain(storage_, config_);
  ASSERT_TRUE(maintained.ok());
  ASSERT_EQ(maintained->pruned_kids.size(), 1u);
  EXPECT_EQ(Verify(ring_, first).kind(), common::ErrorKind::kPermissionDenied);
}

TEST_F(KeyRingVerifyTest, AlgorithmChangeDropsTheReplacedNextKey) {
  ASSERT_TRUE(ring_.ActiveSigningKey(storage_, config_).ok());
  const crypto::DecodedJwt by_next = SignedWith(StoredKey(false));
  ASSERT_TRUE(Verify(ring_, by_next).ok());
  config_.signing_algorithm = "RS256";
  ASSERT_TRUE(ring_.ApplyConfig(storage_, config_).ok());
  EXPECT_EQ(Verify(ring_, by_next).kind(), common::ErrorKind::kPermissionDenied);
  const KeyRecord rsa = StoredKey(false);
  EXPECT_EQ(rsa.alg, "RS256");
  EXPECT_TRUE(Verify(ring_, SignedWith(rsa)).ok());
}

TEST_F(KeyRingVerifyTest, StandbyVerifiesNewKeysOnlyAfterInvalidate) {
  KeyRing standby(MakeClock());
  ASSERT_TRUE(ring_.ActiveSigningKey(storage_, config_).ok());
  ASSERT_TRUE(Verify(standby, SignedWith(StoredKey(true))).ok());  // standby caches the ring
  ASSERT_TRUE(ring_.Rotate(storage_, config_).ok());
  const crypto::DecodedJwt by_new_next = SignedWith(StoredKey(false));
  EXPECT_EQ(Verify(standby, by_new_next).kind(), common::ErrorKind::kPermissionDenied);  // stale cache
  standby.Invalidate();
  EXPECT_TRUE(Verify(standby, by_new_next).ok());
}

TEST_F(KeyRingVerifyTest, ConcurrentVerifiesDuringRotationsAllSucceed) {
  ASSERT_TRUE(ring_.ActiveSigningKey(storage_, config_).ok());
  const crypto::DecodedJwt jwt = SignedWith(StoredKey(true));
  std::atomic<int> failures{0};
  std::atomic<int> verified{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        if (!Verify(ring_, jwt).ok()) ++failures;
        ++verified;
      }
    });
  }
  while (verified.load() < 4) std::this_thread::yield();  // verifiers are running
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ring_.Rotate(storage_, config_).ok());
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);  // retired keys stay valid for verification_ttl
}

}  // namespace
}  // namespace taskcred::test
