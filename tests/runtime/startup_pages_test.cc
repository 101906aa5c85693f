// ReleaseStartupPages: the main program's never-written pages leave the
// resident set, and the program runs on (its code and constants fault back
// in from the file).
#include "runtime/startup_pages.h"

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "crypto/hash.h"

namespace taskcred::runtime {
namespace {

// RssFile of /proc/self/status, KiB.
long RssFileKiB() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("RssFile:", 0) == 0) return std::stol(line.substr(8));
  }
  return -1;
}

// Work that runs through code and constant tables of the program (OpenSSL's
// SHA-256 under crypto::Sha256Hex).
std::string Digest(const std::string& text) { return crypto::Sha256Hex(text); }

TEST(StartupPagesTest, ReadOnlyPagesLeaveTheResidentSetAndTheProgramRunsOn) {
  const std::string expected = Digest("taskcred");
  const long before = RssFileKiB();
  ASSERT_GT(before, 0);
  const size_t released = ReleaseReadOnlyProgramPages();
  EXPECT_GT(released, size_t{1} << 20) << "the test program's code is larger than 1 MiB";
  const long after = RssFileKiB();
  EXPECT_LT(after, before) << "RssFile " << before << " KiB -> " << after << " KiB";
  EXPECT_EQ(Digest("taskcred"), expected);
  EXPECT_EQ(expected, "9178a0cd758b3903bcefbc5353b3039b6518eeaef3c52eeeb7ec5348dfcce5ce");
}

TEST(StartupPagesTest, OncePerProcessAndNeverWithLockedMemory) {
  EXPECT_EQ(ReleaseStartupPages(/*memory_locked=*/true), 0u);
  EXPECT_GT(ReleaseStartupPages(false), 0u);
  EXPECT_EQ(ReleaseStartupPages(false), 0u);
}

}  // namespace
}  // namespace taskcred::runtime
