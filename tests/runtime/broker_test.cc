#include "runtime/broker.h"

#include <gtest/gtest.h>

#include <thread>

namespace taskcred::runtime {
namespace {

::plugin::ConnInfo Info(uint32_t id, std::string addr) {
  ::plugin::ConnInfo i;
  i.set_service_id(id);
  i.set_network("unix");
  i.set_address(std::move(addr));
  return i;
}

TEST(BrokerTest, ConnInfoBeforeTake) {
  Broker b;
  b.Put(Info(1, "/a"));
  auto got = b.Take(1, std::chrono::milliseconds(0));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->address(), "/a");
  // Single use.
  EXPECT_EQ(b.Take(1, std::chrono::milliseconds(0)).status().kind(), common::ErrorKind::kUnavailable);
}

TEST(BrokerTest, ConnInfoAfterTakeStarted) {
  Broker b;
  std::thread t([&] { b.Put(Info(7, "/late")); });
  auto got = b.Take(7, std::chrono::seconds(5));
  t.join();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->address(), "/late");
}

TEST(BrokerTest, OtherIdsDoNotSatisfyTake) {
  Broker b;
  b.Put(Info(2, "/two"));
  auto got = b.Take(3, std::chrono::milliseconds(20));
  EXPECT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("id 3"), std::string::npos);
  EXPECT_TRUE(b.Take(2, std::chrono::milliseconds(0)).ok());
}

// A fake steady clock the tests advance by hand.
struct FakeClock {
  std::chrono::steady_clock::time_point t{std::chrono::seconds(1000)};
  Broker::Clock fn() {
    return [this] { return t; };
  }
};

TEST(BrokerTest, UnclaimedConnInfoIsDroppedAfterTtl) {
  FakeClock clock;
  Broker b(std::chrono::milliseconds(5000), clock.fn());
  b.Put(Info(4, "/stale"));
  clock.t += std::chrono::milliseconds(4999);
  EXPECT_EQ(b.PendingForTest(), 1u);
  clock.t += std::chrono::milliseconds(1);  // 5 s after arrival: gone, like go-plugin's timeoutWait
  auto got = b.Take(4, std::chrono::milliseconds(0));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().kind(), common::ErrorKind::kUnavailable);
  EXPECT_EQ(b.PendingForTest(), 0u);
}

TEST(BrokerTest, ExpiryCountsFromEachArrival) {
  FakeClock clock;
  Broker b(std::chrono::milliseconds(5000), clock.fn());
  b.Put(Info(1, "/one"));
  clock.t += std::chrono::seconds(3);
  b.Put(Info(2, "/two"));
  clock.t += std::chrono::seconds(3);  // one is 6 s old, two is 3 s old
  EXPECT_FALSE(b.Take(1, std::chrono::milliseconds(0)).ok());
  auto two = b.Take(2, std::chrono::milliseconds(0));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->address(), "/two");
}

TEST(BrokerTest, PutDropsExpiredEntriesSoTheMapStaysBounded) {
  FakeClock clock;
  Broker b(std::chrono::milliseconds(5000), clock.fn());
  for (uint32_t id = 1; id <= 1000; ++id) {
    b.Put(Info(id, "/x"));
    clock.t += std::chrono::milliseconds(100);  // 50 entries fit in 5 s
  }
  EXPECT_LE(b.PendingForTest(), 50u);
  EXPECT_GE(b.PendingForTest(), 49u);
}

TEST(BrokerTest, ReplacedConnInfoWinsAndRestartsTheClock) {
  FakeClock clock;
  Broker b(std::chrono::milliseconds(5000), clock.fn());
  b.Put(Info(9, "/first"));
  clock.t += std::chrono::seconds(4);
  b.Put(Info(9, "/second"));
  clock.t += std::chrono::seconds(4);
  auto got = b.Take(9, std::chrono::milliseconds(0));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->address(), "/second");
}

}  // namespace
}  // namespace taskcred::runtime
