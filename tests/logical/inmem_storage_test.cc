#include "logical/inmem_storage.h"

#include <gtest/gtest.h>

#include "logical/operation.h"

namespace taskcred::logical {
namespace {

TEST(InmemStorageTest, PutGetListDelete) {
  InmemStorage s;
  ASSERT_TRUE(s.Put({"roles/a", "1"}).ok());
  ASSERT_TRUE(s.Put({"roles/b", "2"}).ok());
  ASSERT_TRUE(s.Put({"roles/sub/c", "3"}).ok());
  ASSERT_TRUE(s.Put({"config", "4"}).ok());
  auto got = s.Get("roles/b");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "2");
  EXPECT_FALSE(s.Get("roles/zz")->has_value());
  EXPECT_EQ(*s.List("roles/"), (std::vector<std::string>{"a", "b", "sub/"}));
  EXPECT_EQ(*s.List(""), (std::vector<std::string>{"config", "roles/"}));
  EXPECT_EQ(*s.ListPage("roles/", "a", 1), (std::vector<std::string>{"b"}));
  ASSERT_TRUE(s.Delete("roles/a").ok());
  ASSERT_TRUE(s.Delete("roles/a").ok());
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.Get("roles/../config").status().kind(), common::ErrorKind::kInvalidArgument);
}

TEST(OperationTest, RoundTripsNames) {
  for (auto op : {Operation::kCreate, Operation::kAliasLookahead, Operation::kRollback}) {
    EXPECT_EQ(ParseOperation(OperationName(op)), op);
  }
  EXPECT_EQ(ParseOperation("bogus"), std::nullopt);
}

}  // namespace
}  // namespace taskcred::logical
