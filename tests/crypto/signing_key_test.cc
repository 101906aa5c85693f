#include "crypto/signing_key.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/encoding.h"
#include "test_keys.h"

namespace taskcred::crypto {
namespace {

using nlohmann::json;

const Algorithm kAll[] = {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kRS256};

TEST(CryptoAlgorithm, NamesAreExact) {
  for (Algorithm alg : kAll) {
    auto parsed = ParseAlgorithm(AlgorithmName(alg));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, alg);
  }
  for (const char* bad : {"none", "None", "HS256", "es256", "eddsa", "RS512", "ES384", "", "Ed25519"}) {
    EXPECT_FALSE(ParseAlgorithm(bad).ok()) << bad;
  }
}

class CryptoSigningKeyPerAlg : public ::testing::TestWithParam<Algorithm> {};

TEST_P(CryptoSigningKeyPerAlg, SignVerifyRoundTrip) {
  auto key = SigningKey::Generate(GetParam());
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->algorithm(), GetParam());
  auto sig = key->Sign("hello");
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  PublicKey pub = key->public_key();
  EXPECT_TRUE(pub.Verify("hello", *sig).ok());
  EXPECT_EQ(pub.Verify("hellO", *sig).kind(), common::ErrorKind::kPermissionDenied);
  std::string flipped = *sig;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_FALSE(pub.Verify("hello", flipped).ok());
  EXPECT_FALSE(pub.Verify("hello", sig->substr(1)).ok());
  EXPECT_FALSE(pub.Verify("hello", "").ok());
  EXPECT_FALSE(pub.Verify("hello", *sig + "x").ok());

  // Another key of the same type does not verify it.
  auto other = SigningKey::Generate(GetParam());
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->public_key().Verify("hello", *sig).ok());
}

TEST_P(CryptoSigningKeyPerAlg, PemRoundTripKeepsTheKey) {
  auto key = SigningKey::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  std::string pem = key->PrivatePem();
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << "PKCS#8 expected";
  auto loaded = SigningKey::FromPrivatePem(GetParam(), pem);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->PublicJwk("k"), key->PublicJwk("k"));
  EXPECT_EQ(loaded->Thumbprint(), key->Thumbprint());
  auto sig = loaded->Sign("data");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(key->public_key().Verify("data", *sig).ok());
}

TEST_P(CryptoSigningKeyPerAlg, PemOfAnotherTypeIsRefused) {
  auto key = SigningKey::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  for (Algorithm other : kAll) {
    if (other == GetParam()) continue;
    auto loaded = SigningKey::FromPrivatePem(other, key->PrivatePem());
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().kind(), common::ErrorKind::kInvalidArgument);
    // The message never carries key material.
    EXPECT_EQ(loaded.status().message().find("PRIVATE"), std::string::npos);
  }
}

TEST_P(CryptoSigningKeyPerAlg, JwkRoundTripsThroughPublicKey) {
  auto key = SigningKey::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  json jwk = key->PublicJwk("kid-1");
  EXPECT_EQ(jwk["kid"], "kid-1");
  EXPECT_EQ(jwk["alg"], AlgorithmName(GetParam()));
  EXPECT_EQ(jwk["use"], "sig");
  EXPECT_FALSE(jwk.contains("d"));
  auto pub = PublicKey::FromJwk(jwk);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->algorithm(), GetParam());
  EXPECT_EQ(pub->Jwk("kid-1"), jwk);
  EXPECT_EQ(pub->Thumbprint(), key->Thumbprint());
  auto sig = key->Sign("x");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(pub->Verify("x", *sig).ok());
  // Thumbprint: 32 bytes base64url.
  EXPECT_EQ(key->Thumbprint().size(), 43u);
}

TEST_P(CryptoSigningKeyPerAlg, ConcurrentSigningIsSafe) {
  auto key = SigningKey::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  const SigningKey& k = *key;
  std::vector<std::thread> threads;
  std::vector<int> good(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string msg = "m" + std::to_string(t) + "-" + std::to_string(i);
        auto sig = k.Sign(msg);
        if (sig.ok() && k.public_key().Verify(msg, *sig).ok()) ++good[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int g : good) EXPECT_EQ(g, 20);
}

INSTANTIATE_TEST_SUITE_P(All, CryptoSigningKeyPerAlg, ::testing::ValuesIn(kAll),
                         [](const auto& p) { return std::string(AlgorithmName(p.param)); });

TEST(CryptoSigningKey, CopiesShareTheKeyAndOutliveTheOriginal) {
  std::optional<SigningKey> copy;
  std::optional<PublicKey> pub;
  {
    auto key = SigningKey::Generate(Algorithm::kES256);
    ASSERT_TRUE(key.ok());
    copy = *key;
    pub = key->public_key();
  }
  auto sig = copy->Sign("after");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(pub->Verify("after", *sig).ok());
}

TEST(CryptoSigningKey, Es256SignatureIsRaw64Bytes) {
  auto key = SigningKey::Generate(Algorithm::kES256);
  ASSERT_TRUE(key.ok());
  for (int i = 0; i < 50; ++i) {
    auto sig = key->Sign("msg" + std::to_string(i));
    ASSERT_TRUE(sig.ok());
    ASSERT_EQ(sig->size(), 64u);
    // DER would start with 0x30 SEQUENCE followed by a length; raw R||S is not
    // structured. Check we never leak DER: a DER ECDSA signature is 70-72 bytes.
    EXPECT_TRUE(key->public_key().Verify("msg" + std::to_string(i), *sig).ok());
  }
  // All-zero R||S is not a signature.
  EXPECT_FALSE(key->public_key().Verify("msg0", std::string(64, '\0')).ok());
}

TEST(CryptoSigningKey, Ed25519AndRsaSignatureSizes) {
  auto ed = SigningKey::Generate(Algorithm::kEdDSA);
  auto rsa = SigningKey::Generate(Algorithm::kRS256);
  ASSERT_TRUE(ed.ok() && rsa.ok());
  auto a = ed->Sign("x");
  auto b = rsa->Sign("x");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_EQ(b->size(), 256u);
  // Ed25519 and RS256 (PKCS#1 v1.5) are deterministic.
  EXPECT_EQ(*ed->Sign("x"), *a);
  EXPECT_EQ(*rsa->Sign("x"), *b);
}

TEST(CryptoSigningKey, Rfc8037Ed25519Vector) {
  auto seed = Base64UrlDecode(test::kRfc8037D);
  ASSERT_TRUE(seed.ok());
  auto key = SigningKey::FromPrivatePem(Algorithm::kEdDSA, test::Ed25519SeedToPem(*seed));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  // A.2: public key.
  json jwk = key->PublicJwk("k");
  EXPECT_EQ(jwk["kty"], "OKP");
  EXPECT_EQ(jwk["crv"], "Ed25519");
  EXPECT_EQ(jwk["x"], test::kRfc8037X);
  // A.3: thumbprint.
  EXPECT_EQ(key->Thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  // A.4: signature over the JWS signing input {"alg":"EdDSA"}."Example of Ed25519 signing".
  const std::string input = Base64UrlEncode("{\"alg\":\"EdDSA\"}") + "." + Base64UrlEncode("Example of Ed25519 signing");
  EXPECT_EQ(input, "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc");
  auto sig = key->Sign(input);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(Base64UrlEncode(*sig),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  // A.5: verification with the public JWK alone.
  auto pub = PublicKey::FromJwk(json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", test::kRfc8037X}});
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->Verify(input, *sig).ok());
}

TEST(CryptoSigningKey, Rfc7638RsaThumbprintVector) {
  const json jwk = {
      {"kty", "RSA"},
      {"n",
       "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3o"
       "knjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZ"
       "Hzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-k"
       "EgU8awapJzKnqDKgw"},
      {"e", "AQAB"},
      {"alg", "RS256"},
      {"kid", "2011-04-29"}};
  auto pub = PublicKey::FromJwk(jwk);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->algorithm(), Algorithm::kRS256);
  EXPECT_EQ(pub->Thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  // Re-export keeps n and e byte for byte.
  json out = pub->Jwk("2011-04-29");
  EXPECT_EQ(out["n"], jwk["n"]);
  EXPECT_EQ(out["e"], jwk["e"]);
}

TEST(CryptoSigningKey, Es256JwkCoordinatesAreFixed32Bytes) {
  // Over many keys some coordinates have a leading zero byte; all must still be 32 bytes.
  for (int i = 0; i < 64; ++i) {
    auto key = SigningKey::Generate(Algorithm::kES256);
    ASSERT_TRUE(key.ok());
    json jwk = key->PublicJwk("k");
    EXPECT_EQ(jwk["kty"], "EC");
    EXPECT_EQ(jwk["crv"], "P-256");
    EXPECT_EQ(Base64UrlDecode(jwk["x"].get<std::string>())->size(), 32u);
    EXPECT_EQ(Base64UrlDecode(jwk["y"].get<std::string>())->size(), 32u);
  }
}

TEST(CryptoSigningKey, RsaJwkHasNoLeadingZeroAndStandardExponent) {
  auto key = SigningKey::Generate(Algorithm::kRS256);
  ASSERT_TRUE(key.ok());
  json jwk = key->PublicJwk("k");
  EXPECT_EQ(jwk["kty"], "RSA");
  EXPECT_EQ(jwk["e"], "AQAB");
  auto n = Base64UrlDecode(jwk["n"].get<std::string>());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->size(), 256u);
  EXPECT_NE((*n)[0], '\0');
}

struct BadJwk {
  const char* name;
  json jwk;
};

TEST(CryptoPublicKey, FromJwkRejectsBadKeys) {
  auto ec = SigningKey::Generate(Algorithm::kES256);
  auto rsa = SigningKey::Generate(Algorithm::kRS256);
  ASSERT_TRUE(ec.ok() && rsa.ok());
  json ec_jwk = ec->PublicJwk("e");
  json rsa_jwk = rsa->PublicJwk("r");
  json ed_jwk = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", test::kRfc8037X}};

  auto with = [](json j, const char* k, json v) {
    j[k] = std::move(v);
    return j;
  };
  auto without = [](json j, const char* k) {
    j.erase(k);
    return j;
  };
  std::string n = *Base64UrlDecode(rsa_jwk["n"].get<std::string>());
  std::string x = *Base64UrlDecode(ec_jwk["x"].get<std::string>());
  std::string y = *Base64UrlDecode(ec_jwk["y"].get<std::string>());
  std::string off_curve_y = y;
  off_curve_y[31] ^= 1;

  const BadJwk cases[] = {
      {"not an object", json::array()},
      {"no kty", without(ed_jwk, "kty")},
      {"kty not string", with(ed_jwk, "kty", 1)},
      {"unknown kty", with(ed_jwk, "kty", "oct")},
      {"oct secret", json{{"kty", "oct"}, {"k", "AAAA"}}},
      {"OKP wrong curve", with(ed_jwk, "crv", "X25519")},
      {"OKP short x", with(ed_jwk, "x", "AAAA")},
      {"OKP x padded", with(ed_jwk, "x", std::string(test::kRfc8037X) + "=")},
      {"OKP with private d", with(ed_jwk, "d", test::kRfc8037D)},
      {"OKP alg mismatch", with(ed_jwk, "alg", "ES256")},
      {"OKP alg none", with(ed_jwk, "alg", "none")},
      {"use enc", with(ed_jwk, "use", "enc")},
      {"key_ops sign only", with(ed_jwk, "key_ops", json::array({"sign"}))},
      {"EC wrong curve", with(ec_jwk, "crv", "P-384")},
      {"EC missing y", without(ec_jwk, "y")},
      {"EC short x", with(ec_jwk, "x", Base64UrlEncode(x.substr(1)))},
      {"EC long x", with(ec_jwk, "x", Base64UrlEncode(std::string(1, '\0') + x))},
      {"EC off-curve point", with(ec_jwk, "y", Base64UrlEncode(off_curve_y))},
      {"EC alg RS256", with(ec_jwk, "alg", "RS256")},
      {"RSA leading zero n", with(rsa_jwk, "n", Base64UrlEncode(std::string(1, '\0') + n))},
      {"RSA small n", with(rsa_jwk, "n", Base64UrlEncode(n.substr(0, 128)))},
      {"RSA even e", with(rsa_jwk, "e", Base64UrlEncode(std::string("\x01\x00\x00", 3)))},
      {"RSA e=1", with(rsa_jwk, "e", "AQ")},
      {"RSA alg HS256", with(rsa_jwk, "alg", "HS256")},
      {"RSA alg EdDSA", with(rsa_jwk, "alg", "EdDSA")},
      {"RSA n not string", with(rsa_jwk, "n", 5)},
      {"RSA n bad base64", with(rsa_jwk, "n", "!!!!")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = PublicKey::FromJwk(c.jwk);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), common::ErrorKind::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("jwk: ", 0), 0u) << r.status().message();
  }
}

TEST(CryptoSigningKey, FromPrivatePemRejectsGarbage) {
  for (const std::string& pem :
       {std::string(""), std::string("hello"), std::string("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        std::string(70000, 'A')}) {
    auto r = SigningKey::FromPrivatePem(Algorithm::kEdDSA, pem);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), common::ErrorKind::kInvalidArgument);
  }
}

}  // namespace
}  // namespace taskcred::crypto
