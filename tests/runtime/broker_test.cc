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

}  // namespace
}  // namespace taskcred::runtime
