// Token Status List bits and claims (src/statuslist), checked against the
// draft's own example, against Python's zlib as an independent decoder, and
// with hostile claims (what the verification kit will be fed).
#include "statuslist/status_list.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <random>
#include <set>
#include <string>

#include "crypto/encoding.h"
#include "support/run_command.h"

namespace taskcred::statuslist {
namespace {

using nlohmann::json;

TEST(BitListTest, BitsAreLeastSignificantFirstWithinAByte) {
  BitList l(16);
  EXPECT_EQ(l.capacity(), 16u);
  l.Set(0, true);
  l.Set(9, true);
  EXPECT_EQ(l.bytes(), std::string("\x01\x02", 2));
  EXPECT_TRUE(l.Get(0));
  EXPECT_FALSE(l.Get(1));
  EXPECT_TRUE(l.Get(9));
  l.Set(0, false);
  EXPECT_FALSE(l.Get(0));
  EXPECT_EQ(l.bytes(), std::string("\x00\x02", 2));
}

TEST(BitListTest, OutOfRangeIsIgnoredOnSetAndZeroOnGet) {
  BitList l(10);
  EXPECT_EQ(l.capacity(), 16u);  // whole bytes
  l.Set(16, true);
  l.Set(1000, true);
  EXPECT_EQ(l.bytes(), std::string(2, '\0'));
  EXPECT_FALSE(l.Get(16));
}

// The draft's example list (section "Status List"): 16 statuses
// 1 0 0 1 1 1 0 1 1 1 0 0 0 1 0 1 are the bytes b9 a3 and the claim
// {"bits": 1, "lst": "eNrbuRgAAhcBXQ"} (zlib level 9). We compress at the
// default level 6: the same deflate data under another header ("eJz").
TEST(EncodeTest, TheDraftsExample) {
  const int statuses[16] = {1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1};
  BitList l(16);
  for (size_t i = 0; i < 16; ++i) l.Set(i, statuses[i] == 1);
  EXPECT_EQ(l.bytes(), std::string("\xb9\xa3", 2));
  EXPECT_EQ(Encode(l), json::parse(R"({"bits": 1, "lst": "eJzbuRgAAhcBXQ"})"));
  auto back = Decode(json::parse(R"({"bits": 1, "lst": "eNrbuRgAAhcBXQ"})"));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(back->Get(i), statuses[i] == 1) << i;
}

TEST(EncodeTest, RoundTripsListsOfManySizes) {
  std::mt19937_64 rng(20261207);
  for (size_t bits : {size_t{0}, size_t{8}, size_t{1} << 10, size_t{1} << 17}) {
    BitList l(bits);
    for (size_t k = 0; k < bits / 50; ++k) l.Set(rng() % bits, true);
    auto back = Decode(Encode(l));
    ASSERT_TRUE(back.ok()) << bits << ": " << back.status().ToString();
    EXPECT_EQ(back->bytes(), l.bytes()) << bits;
  }
}

TEST(EncodeTest, ASparseListOf100000CredentialsIsSmallOnTheWire) {
  // What a verifier downloads for a list with 1 % of its tasks ended early.
  BitList l(100000);
  std::mt19937_64 rng(7);
  for (int k = 0; k < 1000; ++k) l.Set(rng() % 100000, true);
  const std::string lst = Encode(l)["lst"];
  EXPECT_LT(lst.size(), 12500u / 2) << "12,500 raw bytes should deflate to well under half";
}

json Claim(const std::string& compressed) { return {{"bits", 1}, {"lst", crypto::Base64UrlEncode(compressed)}}; }

std::string Zlib(const std::string& raw) {
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
            static_cast<uLong>(raw.size()), 9);
  out.resize(size);
  return out;
}

void ExpectRefused(const json& claim, const std::string& needle, size_t max_bytes = kMaxListBytes) {
  auto r = Decode(claim, max_bytes);
  ASSERT_FALSE(r.ok()) << claim.dump();
  EXPECT_EQ(r.status().kind(), common::ErrorKind::kInvalidArgument);
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
}

TEST(DecodeTest, RefusesClaimsThatAreNotOneBitLists) {
  ExpectRefused(json::array(), "status_list: must be an object");
  ExpectRefused({{"lst", "eNrbuRgAAhcBXQ"}}, "status_list.bits: must be 1");
  ExpectRefused({{"bits", 2}, {"lst", "eNrbuRgAAhcBXQ"}}, "status_list.bits: must be 1");
  ExpectRefused({{"bits", "1"}, {"lst", "eNrbuRgAAhcBXQ"}}, "status_list.bits: must be 1");
  ExpectRefused({{"bits", 1}}, "status_list.lst: must be a non-empty string");
  ExpectRefused({{"bits", 1}, {"lst", ""}}, "status_list.lst: must be a non-empty string");
  ExpectRefused({{"bits", 1}, {"lst", 5}}, "status_list.lst: must be a non-empty string");
}

TEST(DecodeTest, RefusesWhatIsNotOneCompleteZlibStream) {
  ExpectRefused({{"bits", 1}, {"lst", "eNrbuRgAAhcBXQ=="}}, "not unpadded base64url");
  ExpectRefused({{"bits", 1}, {"lst", "eNrb+RgAAhcBXQ"}}, "not unpadded base64url");
  ExpectRefused(Claim("not zlib at all"), "not one complete ZLIB stream");
  const std::string good = Zlib(std::string(100, '\x55'));
  ExpectRefused(Claim(good.substr(0, good.size() - 3)), "not one complete ZLIB stream");  // truncated
  ExpectRefused(Claim(good + "extra"), "not one complete ZLIB stream");                   // trailing bytes
  EXPECT_TRUE(Decode(Claim(good)).ok());
}

TEST(DecodeTest, RefusesAListThatInflatesPastTheLimit) {
  // 4 MiB of zeros deflate to about 4 KiB: a small claim, a large list.
  const std::string bomb = Zlib(std::string(size_t{4} << 20, '\0'));
  EXPECT_LT(bomb.size(), 8192u);
  ExpectRefused(Claim(bomb), "inflates to more than 1048576 bytes", size_t{1} << 20);
  auto ok = Decode(Claim(bomb), size_t{4} << 20);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->capacity(), (size_t{4} << 20) * 8);
  // Incompressible bytes: the stream is longer than the list, and accepted.
  std::string noise(size_t{1} << 20, '\0');
  std::mt19937_64 rng(3);
  for (char& c : noise) c = static_cast<char>(rng());
  auto random = Decode(Claim(Zlib(noise)), noise.size());
  ASSERT_TRUE(random.ok()) << random.status().ToString();
  EXPECT_EQ(random->bytes(), noise);
  // An input too long to be any list within the limit is refused unread.
  ExpectRefused({{"bits", 1}, {"lst", std::string(2000, 'A')}}, "longer than any list of 1000 bytes", 1000);
}

// An independent decoder: Python's zlib and base64, as a resource service
// written in Python would decode the claim.
TEST(IndependentDecoderTest, PythonReadsTheBitsWeSet) {
  if (std::system("python3 -c 'import zlib' >/dev/null 2>&1") != 0) {
    const char* require = std::getenv("TASKCRED_REQUIRE_PYJWT");
    if (require != nullptr && std::string(require) == "1") FAIL() << "python3 is required";
    GTEST_SKIP() << "no python3";
  }
  BitList l(5000);
  std::set<size_t> set = {0, 7, 8, 9, 1023, 4095, 4999};
  std::mt19937_64 rng(99);
  for (int k = 0; k < 40; ++k) set.insert(rng() % 5000);
  for (size_t i : set) l.Set(i, true);
  const std::string lst = Encode(l)["lst"];
  const std::string cmd =
      "python3 -c 'import base64, sys, zlib\n"
      "s = sys.argv[1]\n"
      "b = zlib.decompress(base64.urlsafe_b64decode(s + \"=\" * (-len(s) % 4)))\n"
      "print(\" \".join(str(i) for i in range(len(b) * 8) if b[i // 8] >> (i % 8) & 1))' " +
      lst;
  test::CommandRun run = test::RunCommand(cmd);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::string want;
  for (size_t i : set) want += (want.empty() ? "" : " ") + std::to_string(i);
  EXPECT_EQ(run.output, want + "\n");
}

}  // namespace
}  // namespace taskcred::statuslist
