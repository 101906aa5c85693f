#include "crypto/jwt.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "crypto/encoding.h"
#include "test_keys.h"

namespace taskcred::crypto {
namespace {

using nlohmann::json;

const Algorithm kAll[] = {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kRS256};

json Claims() {
  return {{"iss", "https://vault.example/v1/taskcred"},
          {"sub", "entity-1"},
          {"aud", json::array({"backup-service"})},
          {"exp", 2000000000},
          {"jti", "8d2c6f1e-0000-4000-8000-000000000000"},
          {"grants", json::array({{{"resource", "s3://backups/db1/x"}, {"actions", {"write"}}}})}};
}

json Jwks(const std::vector<json>& keys) { return json{{"keys", keys}}; }

// Splits a compact token into its three parts.
std::vector<std::string> Parts(const std::string& token) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t dot; (dot = token.find('.', start)) != std::string::npos; start = dot + 1) {
    out.push_back(token.substr(start, dot - start));
  }
  out.push_back(token.substr(start));
  return out;
}

std::string Join(const std::vector<std::string>& p) { return p.at(0) + "." + p.at(1) + "." + p.at(2); }

class CryptoJwtPerAlg : public ::testing::TestWithParam<Algorithm> {
 protected:
  void SetUp() override {
    auto k = SigningKey::Generate(GetParam());
    ASSERT_TRUE(k.ok());
    key_ = *k;
    jwks_ = Jwks({key_->PublicJwk("kid-a")});
    auto t = SignJwt(*key_, "kid-a", Claims());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    token_ = *t;
  }

  std::optional<SigningKey> key_;
  json jwks_;
  std::string token_;
};

TEST_P(CryptoJwtPerAlg, SignDecodeVerifyRoundTrip) {
  auto jwt = DecodeAndVerifyJwt(token_, jwks_);
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  EXPECT_EQ(jwt->claims, Claims());
  EXPECT_EQ(jwt->header, (json{{"alg", AlgorithmName(GetParam())}, {"typ", "JWT"}, {"kid", "kid-a"}}));
  EXPECT_EQ(jwt->signing_input, token_.substr(0, token_.rfind('.')));
}

TEST_P(CryptoJwtPerAlg, ExplicitTypeAndSizeBound) {
  // A status list token: its own typ, and a bound above kMaxJwtBytes.
  json big = Claims();
  big["lst"] = std::string(20000, 'A');
  EXPECT_FALSE(SignJwt(*key_, "kid-a", big).ok());
  JwtType type{.typ = "statuslist+jwt", .max_bytes = 64 * 1024};
  auto t = SignJwt(*key_, "kid-a", big, type);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_FALSE(DecodeJwt(*t).ok());
  auto jwt = DecodeJwt(*t, type.max_bytes);
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  EXPECT_EQ(jwt->header["typ"], "statuslist+jwt");
  EXPECT_TRUE(VerifyJwtSignature(*jwt, jwks_).ok());
  EXPECT_FALSE(SignJwt(*key_, "kid-a", big, {.typ = "statuslist+jwt", .max_bytes = 16 * 1024}).ok());
}

TEST_P(CryptoJwtPerAlg, TamperedPartsAreRefused) {
  auto p = Parts(token_);
  ASSERT_EQ(p.size(), 3u);

  // Payload: different claims, same header and signature.
  json evil = Claims();
  evil["grants"][0]["resource"] = "s3://backups/*";
  auto tampered_payload = p;
  tampered_payload[1] = Base64UrlEncode(evil.dump());
  EXPECT_EQ(DecodeAndVerifyJwt(Join(tampered_payload), jwks_).status().kind(), common::ErrorKind::kPermissionDenied);

  // Header: an added member changes the signing input.
  auto tampered_header = p;
  tampered_header[0] = Base64UrlEncode(
      json{{"alg", AlgorithmName(GetParam())}, {"typ", "JWT"}, {"kid", "kid-a"}, {"x", 1}}.dump());
  EXPECT_EQ(DecodeAndVerifyJwt(Join(tampered_header), jwks_).status().kind(), common::ErrorKind::kPermissionDenied);

  // Signature: every single-byte flip is refused.
  std::string sig = *Base64UrlDecode(p[2]);
  for (size_t i = 0; i < sig.size(); i += 7) {
    std::string s = sig;
    s[i] ^= 0x20;
    auto q = p;
    q[2] = Base64UrlEncode(s);
    EXPECT_FALSE(DecodeAndVerifyJwt(Join(q), jwks_).ok()) << "byte " << i;
  }
  // Truncated / extended signature.
  auto shorter = p;
  shorter[2] = Base64UrlEncode(sig.substr(0, sig.size() - 1));
  EXPECT_FALSE(DecodeAndVerifyJwt(Join(shorter), jwks_).ok());
  auto longer = p;
  longer[2] = Base64UrlEncode(sig + "A");
  EXPECT_FALSE(DecodeAndVerifyJwt(Join(longer), jwks_).ok());
}

TEST_P(CryptoJwtPerAlg, WrongOrMissingKidIsRefused) {
  auto other = SigningKey::Generate(GetParam());
  ASSERT_TRUE(other.ok());
  // Unknown kid.
  auto r = DecodeAndVerifyJwt(token_, Jwks({key_->PublicJwk("kid-b")}));
  EXPECT_EQ(r.status().kind(), common::ErrorKind::kPermissionDenied);
  EXPECT_NE(r.status().message().find("kid"), std::string::npos);
  // Right kid, wrong key.
  EXPECT_FALSE(DecodeAndVerifyJwt(token_, Jwks({other->PublicJwk("kid-a")})).ok());
  // Ambiguous kid.
  EXPECT_FALSE(DecodeAndVerifyJwt(token_, Jwks({key_->PublicJwk("kid-a"), other->PublicJwk("kid-a")})).ok());
  // Empty JWKS, malformed JWKS.
  EXPECT_FALSE(DecodeAndVerifyJwt(token_, Jwks({})).ok());
  EXPECT_EQ(DecodeAndVerifyJwt(token_, json::object()).status().kind(), common::ErrorKind::kInvalidArgument);
  EXPECT_EQ(DecodeAndVerifyJwt(token_, json::array()).status().kind(), common::ErrorKind::kInvalidArgument);
  // The right key among others works.
  EXPECT_TRUE(DecodeAndVerifyJwt(token_, Jwks({other->PublicJwk("kid-b"), key_->PublicJwk("kid-a")})).ok());

  // A token without kid.
  auto p = Parts(token_);
  p[0] = Base64UrlEncode(json{{"alg", AlgorithmName(GetParam())}}.dump());
  auto no_kid = DecodeJwt(Join(p));
  ASSERT_TRUE(no_kid.ok());
  EXPECT_EQ(VerifyJwtSignature(*no_kid, jwks_).kind(), common::ErrorKind::kPermissionDenied);
}

TEST_P(CryptoJwtPerAlg, HeaderAlgMustMatchTheKey) {
  auto p = Parts(token_);
  for (const char* alg : {"none", "None", "HS256", "RS256", "ES256", "EdDSA", "PS256", "ES384"}) {
    if (alg == AlgorithmName(GetParam())) continue;
    SCOPED_TRACE(alg);
    auto q = p;
    q[0] = Base64UrlEncode(json{{"alg", alg}, {"typ", "JWT"}, {"kid", "kid-a"}}.dump());
    auto r = DecodeAndVerifyJwt(Join(q), jwks_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), common::ErrorKind::kPermissionDenied);
  }
}

TEST_P(CryptoJwtPerAlg, SignedWithAnotherAlgorithmUnderTheSameKid) {
  // An attacker's key of another type, published under the victim's kid, must
  // not make the victim's JWKS entry accept the attacker's token.
  for (Algorithm alg : kAll) {
    if (alg == GetParam()) continue;
    auto evil = SigningKey::Generate(alg);
    ASSERT_TRUE(evil.ok());
    auto token = SignJwt(*evil, "kid-a", Claims());
    ASSERT_TRUE(token.ok());
    EXPECT_FALSE(DecodeAndVerifyJwt(*token, jwks_).ok());
  }
}

INSTANTIATE_TEST_SUITE_P(All, CryptoJwtPerAlg, ::testing::ValuesIn(kAll),
                         [](const auto& p) { return std::string(AlgorithmName(p.param)); });

TEST(CryptoJwt, Hs256ConfusionWithRsaPublicKeyAsSecret) {
  // Classic attack: HMAC the token with the RSA public key (its PEM or JWK
  // text) as the secret and claim HS256. We have no HMAC path at all.
  auto rsa = SigningKey::Generate(Algorithm::kRS256);
  ASSERT_TRUE(rsa.ok());
  json jwks = Jwks({rsa->PublicJwk("r1")});
  std::string header = Base64UrlEncode(json{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "r1"}}.dump());
  std::string payload = Base64UrlEncode(Claims().dump());
  std::string token = header + "." + payload + "." + Base64UrlEncode(std::string(32, 'x'));
  auto r = DecodeAndVerifyJwt(token, jwks);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), common::ErrorKind::kPermissionDenied);

  // alg none, empty signature: refused as malformed; with a dummy signature: refused on alg.
  std::string none_header = Base64UrlEncode(json{{"alg", "none"}, {"kid", "r1"}}.dump());
  EXPECT_EQ(DecodeAndVerifyJwt(none_header + "." + payload + ".", jwks).status().kind(),
            common::ErrorKind::kInvalidArgument);
  EXPECT_EQ(DecodeAndVerifyJwt(none_header + "." + payload + ".AAAA", jwks).status().kind(),
            common::ErrorKind::kPermissionDenied);
}

TEST(CryptoJwt, DecodeRejectsMalformedStructure) {
  auto key = SigningKey::Generate(Algorithm::kEdDSA);
  ASSERT_TRUE(key.ok());
  std::string good = *SignJwt(*key, "k", Claims());
  auto p = Parts(good);
  const std::string obj = Base64UrlEncode("{\"alg\":\"EdDSA\"}");
  const std::string cases[] = {
      "",
      ".",
      "..",
      "a.b",
      p[0] + "." + p[1],
      p[0] + "." + p[1] + "." + p[2] + ".",
      p[0] + "." + p[1] + "." + p[2] + "." + p[2],
      "." + p[1] + "." + p[2],
      p[0] + ".." + p[2],
      p[0] + "." + p[1] + ".",
      p[0] + "=." + p[1] + "." + p[2],                              // padding
      p[0] + "." + p[1] + "." + p[2] + "=",                         // padding on the signature
      p[0] + " ." + p[1] + "." + p[2],                              // whitespace
      Base64Encode("{\"alg\":\"EdDSA\",\"k\":12}") + "." + p[1] + "." + p[2],  // std base64, padded
      Base64UrlEncode("[1,2]") + "." + p[1] + "." + p[2],           // header not an object
      Base64UrlEncode("{\"alg\":\"EdDSA\"") + "." + p[1] + "." + p[2],  // not JSON
      Base64UrlEncode("{\"alg\":1}") + "." + p[1] + "." + p[2],     // alg not a string
      Base64UrlEncode("{}") + "." + p[1] + "." + p[2],              // no alg
      Base64UrlEncode("{\"alg\":\"EdDSA\",\"alg\":\"none\"}") + "." + p[1] + "." + p[2],  // duplicate
      Base64UrlEncode("{\"alg\":\"EdDSA\",\"crit\":[\"b64\"],\"b64\":false}") + "." + p[1] + "." + p[2],
      obj + "." + Base64UrlEncode("\"claims\"") + "." + p[2],        // claims not an object
      obj + "." + Base64UrlEncode("{\"a\":{\"b\":1,\"b\":2}}") + "." + p[2],  // nested duplicate
      obj + "." + Base64UrlEncode("{\"a\":\"\xff\"}") + "." + p[2],   // invalid UTF-8
      obj + "." + Base64UrlEncode("{} {}") + "." + p[2],            // trailing data
      good.substr(0, good.size() - 1),                              // truncated signature
      good.substr(0, good.size() / 2),                              // truncated anywhere
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c);
    auto r = DecodeJwt(c);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), common::ErrorKind::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("jwt: ", 0), 0u) << r.status().message();
  }
}

TEST(CryptoJwt, EveryTruncationIsRefused) {
  auto key = SigningKey::Generate(Algorithm::kES256);
  ASSERT_TRUE(key.ok());
  std::string token = *SignJwt(*key, "k", Claims());
  json jwks = Jwks({key->PublicJwk("k")});
  for (size_t n = 0; n < token.size(); ++n) {
    ASSERT_FALSE(DecodeAndVerifyJwt(token.substr(0, n), jwks).ok()) << n;
  }
  EXPECT_TRUE(DecodeAndVerifyJwt(token, jwks).ok());
}

TEST(CryptoJwt, DeepNestingIsHandledWithoutRecursionBlowUp) {
  // ~5,000 levels fit under the size cap; parsing and freeing must cope.
  std::string nested = "{\"alg\":\"EdDSA\",\"x\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
  std::string token = Base64UrlEncode(nested) + "." + Base64UrlEncode("{}") + ".AAAA";
  ASSERT_LE(token.size(), kMaxJwtBytes);
  auto r = DecodeJwt(token);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->header["alg"], "EdDSA");
}

TEST(CryptoJwt, SizeCap) {
  auto key = SigningKey::Generate(Algorithm::kEdDSA);
  ASSERT_TRUE(key.ok());
  json big = Claims();
  big["pad"] = std::string(kMaxJwtBytes, 'a');
  auto r = SignJwt(*key, "k", big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), common::ErrorKind::kInvalidArgument);
  EXPECT_FALSE(DecodeJwt(std::string(kMaxJwtBytes + 1, 'a')).ok());

  // Just under the cap still round-trips.
  json fits = Claims();
  fits["pad"] = std::string(kMaxJwtBytes / 2, 'a');
  auto ok = SignJwt(*key, "k", fits);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(DecodeAndVerifyJwt(*ok, Jwks({key->PublicJwk("k")})).ok());
}

TEST(CryptoJwt, SignRefusesNonObjectClaimsAndBadUtf8) {
  auto key = SigningKey::Generate(Algorithm::kEdDSA);
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(SignJwt(*key, "k", json::array()).ok());
  EXPECT_FALSE(SignJwt(*key, "k", json("x")).ok());
  json bad = {{"sub", std::string("\xff\xfe")}};
  auto r = SignJwt(*key, "k", bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), common::ErrorKind::kInvalidArgument);
}

TEST(CryptoJwt, RandomGarbageNeverCrashes) {
  auto key = SigningKey::Generate(Algorithm::kEdDSA);
  ASSERT_TRUE(key.ok());
  std::string token = *SignJwt(*key, "k", Claims());
  json jwks = Jwks({key->PublicJwk("k")});
  std::mt19937 rng(4242);
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string t = token;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % t.size();
      switch (rng() % 3) {
        case 0: t[pos] = static_cast<char>(rng() & 0xff); break;
        case 1: t.erase(pos, 1); break;
        default: t.insert(pos, 1, ".=A_-+/\0"[rng() % 8]); break;
      }
    }
    if (t == token) continue;
    auto r = DecodeAndVerifyJwt(t, jwks);
    if (!r.ok()) ++refused;
    // A changed token may still verify only if it decodes to the same bytes,
    // which canonical base64url forbids.
    EXPECT_FALSE(r.ok()) << t;
  }
  EXPECT_GT(refused, 2500);
}

}  // namespace
}  // namespace taskcred::crypto
