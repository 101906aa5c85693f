#include "crypto/encoding.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <set>
#include <string>

#include "crypto/hash.h"
#include "crypto/random.h"

namespace taskcred::crypto {
namespace {

struct Vector {
  std::string bytes;
  std::string b64;
  std::string b64url;
};

// RFC 4648 §10 test vectors plus bytes that exercise the two alphabets' differences.
const Vector kVectors[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    {std::string("\xfb\xff\xbf", 3), "+/+/", "-_-_"},
    {std::string("\x00\x00", 2), "AAA=", "AAA"},
};

TEST(CryptoEncoding, KnownVectorsRoundTrip) {
  for (const auto& v : kVectors) {
    SCOPED_TRACE(v.b64);
    EXPECT_EQ(Base64Encode(v.bytes), v.b64);
    EXPECT_EQ(Base64UrlEncode(v.bytes), v.b64url);
    auto std_dec = Base64Decode(v.b64);
    ASSERT_TRUE(std_dec.ok()) << std_dec.status().ToString();
    EXPECT_EQ(*std_dec, v.bytes);
    auto url_dec = Base64UrlDecode(v.b64url);
    ASSERT_TRUE(url_dec.ok()) << url_dec.status().ToString();
    EXPECT_EQ(*url_dec, v.bytes);
  }
}

TEST(CryptoEncoding, Base64UrlRejectsHostileInput) {
  const std::string bad[] = {
      "Zg==",         // padding
      "Zg=",          // partial padding
      "Z",            // impossible length (1 mod 4)
      "Zh",           // non-zero trailing bits ("f" is "Zg")
      "Zm9=",         // padding inside
      "+/+/",         // standard alphabet
      "Zm 9v",        // whitespace
      "Zm9v\n",       // newline
      std::string("Zm\0v", 4),  // NUL
      "Zm9v\xc3\xa9",  // non-ASCII
      "Zm9v.",        // separator
  };
  for (const auto& s : bad) {
    SCOPED_TRACE(s);
    auto r = Base64UrlDecode(s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), common::ErrorKind::kInvalidArgument);
  }
}

TEST(CryptoEncoding, Base64RejectsHostileInput) {
  const std::string bad[] = {"Zg", "Zg=", "Zg===", "Z===", "Zh==", "Zm8", "Zm9=v", "-_-_", "Zm9v\n", "=Zm9"};
  for (const auto& s : bad) {
    SCOPED_TRACE(s);
    EXPECT_FALSE(Base64Decode(s).ok());
  }
}

TEST(CryptoEncoding, RandomBytesRoundTripBothAlphabets) {
  std::mt19937 rng(12345);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng() % 70, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng() & 0xff);
    auto url = Base64UrlDecode(Base64UrlEncode(bytes));
    ASSERT_TRUE(url.ok());
    ASSERT_EQ(*url, bytes);
    auto std_dec = Base64Decode(Base64Encode(bytes));
    ASSERT_TRUE(std_dec.ok());
    ASSERT_EQ(*std_dec, bytes);
  }
}

TEST(CryptoEncoding, RandomTextNeverCrashesAndDecodesCanonically) {
  // Any text the decoder accepts must re-encode to exactly itself.
  std::mt19937 rng(777);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. %\n";
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string s(rng() % 12, 'A');
    for (auto& c : s) c = alphabet[rng() % alphabet.size()];
    auto r = Base64UrlDecode(s);
    if (r.ok()) {
      ++accepted;
      ASSERT_EQ(Base64UrlEncode(*r), s);
    }
  }
  EXPECT_GT(accepted, 0);
}

TEST(CryptoEncoding, Hex) {
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  auto d = HexDecode("0001ABff");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, std::string("\x00\x01\xab\xff", 4));
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

TEST(CryptoHash, Sha256KnownAnswers) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256("abc").size(), 32u);
}

TEST(CryptoHash, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("secret", ""));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(CryptoRandom, BytesTokensAndUuids) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(33).size(), 33u);
  std::set<std::string> tokens;
  for (int i = 0; i < 100; ++i) tokens.insert(RandomToken(32));
  EXPECT_EQ(tokens.size(), 100u);
  const std::string token = RandomToken(32);
  EXPECT_EQ(token.size(), 43u);  // 256 bits in base64url
  auto decoded = Base64UrlDecode(token);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->size(), 32u);

  // Version 4, RFC 4122 variant.
  auto is_uuid_v4 = [](const std::string& id) {
    return IsUuid(id) && id[14] == '4' && std::string_view("89ab").find(id[19]) != std::string_view::npos;
  };
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewUuid();
    EXPECT_TRUE(is_uuid_v4(id)) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 100u);

  // Version 8: the prefix is the first 8 hex digits, the rest random.
  for (uint32_t prefix : {0u, 0x0007a3b2u, 0xffffffffu}) {
    char want[9];
    std::snprintf(want, sizeof(want), "%08x", prefix);
    std::set<std::string> v8;
    for (int i = 0; i < 50; ++i) {
      std::string id = NewUuidV8(prefix);
      EXPECT_TRUE(IsUuid(id)) << id;
      EXPECT_EQ(id.substr(0, 8), want) << id;
      EXPECT_EQ(id[14], '8') << id;
      EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos) << id;
      v8.insert(id);
    }
    EXPECT_EQ(v8.size(), 50u);
  }

  EXPECT_TRUE(IsUuid("00000000-0000-0000-0000-000000000000"));
  for (const char* bad : {"", "0000000-0000-0000-0000-0000000000000", "00000000-0000-0000-0000-00000000000G",
                          "00000000-0000-0000-0000-00000000000A", "00000000_0000-0000-0000-000000000000",
                          "000000000-000-0000-0000-000000000000", "00000000-0000-0000-0000-0000000000000"}) {
    EXPECT_FALSE(IsUuid(bad)) << bad;
  }
}

}  // namespace
}  // namespace taskcred::crypto
