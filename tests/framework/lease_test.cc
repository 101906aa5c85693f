// CalculateTTL (ported cases of Go's TestCalculateTTL) and duration text.
#include "framework/lease.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "test_util.h"

namespace taskcred::framework {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

struct TTLCase {
  std::string name;
  nanoseconds increment{0};
  nanoseconds backend_default{0};
  nanoseconds backend_max{0};
  nanoseconds period{0};
  nanoseconds explicit_max{0};
  nanoseconds want{0};
  size_t warnings = 0;
};

TEST(CalculateTTLTest, GoCases) {
  const std::vector<TTLCase> cases = {
      {.name = "increment is preferred",
       .increment = hours(1),
       .backend_default = hours(30),
       .want = hours(1)},
      {.name = "zero backend default uses increment", .increment = hours(1), .want = hours(1)},
      {.name = "zero increment uses backend default", .backend_default = hours(30), .want = hours(30)},
      {.name = "zeros use system view", .want = hours(5)},
      {.name = "backend max and default too long",
       .backend_default = hours(40),
       .backend_max = hours(45),
       .want = hours(30),
       .warnings = 1},
      {.name = "system view limits everything",
       .increment = hours(40),
       .backend_default = hours(40),
       .backend_max = hours(50),
       .want = hours(30),
       .warnings = 1},
      {.name = "request within backend max",
       .increment = hours(4),
       .backend_default = hours(9),
       .backend_max = hours(5),
       .want = hours(4)},
      {.name = "request outside backend max",
       .increment = hours(5),
       .backend_default = hours(9),
       .backend_max = hours(4),
       .want = hours(4),
       .warnings = 1},
      {.name = "negative increment uses system view", .increment = -hours(7), .want = hours(5)},
      {.name = "increment too large", .increment = hours(40), .want = hours(30), .warnings = 1},
      {.name = "period preferred",
       .increment = hours(3),
       .backend_default = hours(4),
       .backend_max = hours(2),
       .period = hours(1),
       .want = hours(1)},
      {.name = "period capped by explicit max",
       .period = hours(2),
       .explicit_max = hours(1),
       .want = hours(1),
       .warnings = 1},
      {.name = "period capped by backend max",
       .backend_max = hours(1),
       .period = hours(2),
       .want = hours(1),
       .warnings = 1},
  };
  const auto now = std::chrono::system_clock::time_point(seconds(1'700'000'000));
  for (const TTLCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    common::Result<TTLResult> got = CalculateTTL(TTLInputs{.mount_default_ttl = hours(5),
                                                           .mount_max_ttl = hours(30),
                                                           .increment = tc.increment,
                                                           .backend_ttl = tc.backend_default,
                                                           .period = tc.period,
                                                           .backend_max_ttl = tc.backend_max,
                                                           .explicit_max_ttl = tc.explicit_max,
                                                           .now = now});
    ASSERT_TRUE(got.ok()) << got.status().message();
    EXPECT_EQ(got->ttl, tc.want);
    EXPECT_EQ(got->warnings.size(), tc.warnings);
  }
}

TEST(CalculateTTLTest, BoundedByStartTime) {
  const auto start = std::chrono::system_clock::time_point(seconds(1'700'000'000));
  TTLInputs in{.mount_default_ttl = hours(1),
               .mount_max_ttl = hours(2),
               .start_time = start,
               .now = start + minutes(90) + std::chrono::milliseconds(700)};
  common::Result<TTLResult> got = CalculateTTL(in);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ttl, minutes(30));  // now is truncated to the second
  ASSERT_EQ(got->warnings.size(), 1u);
  EXPECT_EQ(got->warnings[0],
            "TTL of \"1h\" exceeded the effective max_ttl of \"30m\"; TTL value is capped accordingly");

  in.now = start + hours(2);
  got = CalculateTTL(in);
  ASSERT_FALSE(got.ok());
  EXPECT_KIND(got.status(), common::ErrorKind::kInvalidArgument);
  EXPECT_EQ(got.status().message(), "past the max TTL, cannot renew");
}

TEST(CalculateTTLTest, ZeroMaxIsAnError) {
  common::Result<TTLResult> got = CalculateTTL(TTLInputs{.mount_default_ttl = hours(1)});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(), "max TTL must be greater than zero");
}

TEST(CalculateTTLTest, ReadsMountTTLsFromTheSystemView) {
  test::FakeSystemView sv;
  sv.default_ttl = minutes(10);
  sv.max_ttl = minutes(20);
  common::Result<TTLResult> got = CalculateTTL(sv, TTLInputs{.increment = hours(1)});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ttl, minutes(20));
  got = CalculateTTL(sv, TTLInputs{});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ttl, minutes(10));
}

TEST(DurationTextTest, GoFormatting) {
  const std::vector<std::pair<nanoseconds, std::string>> go = {
      {nanoseconds(0), "0s"},
      {nanoseconds(7), "7ns"},
      {std::chrono::microseconds(1500), "1.5ms"},
      {std::chrono::microseconds(10), "10\xc2\xb5s"},
      {std::chrono::milliseconds(1500), "1.5s"},
      {hours(1) + minutes(30), "1h30m0s"},
      {-minutes(2), "-2m0s"},
      {hours(2562047) + minutes(47) + seconds(16) + nanoseconds(854775807), "2562047h47m16.854775807s"},
  };
  for (const auto& [d, want] : go) EXPECT_EQ(GoDurationString(d), want);
  EXPECT_EQ(HumanDuration(hours(1)), "1h");
  EXPECT_EQ(HumanDuration(hours(1) + seconds(5)), "1h5s");
  EXPECT_EQ(HumanDuration(minutes(30)), "30m");
  EXPECT_EQ(HumanDuration(minutes(1) + seconds(30)), "1m30s");
  EXPECT_EQ(HumanDuration(nanoseconds(0)), "0s");
}

}  // namespace
}  // namespace taskcred::framework
