#include "common/status.h"

#include <gtest/gtest.h>

namespace taskcred::common {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  TC_ASSIGN_OR_RETURN(int h, Half(x));
  TC_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  TC_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorKinds) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Status::Coded(409, "conflict");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kCoded);
  EXPECT_EQ(s.http_code(), 409);
  EXPECT_EQ(s.ToString(), "coded 409: conflict");
  EXPECT_EQ(s.WithContext("writing role").message(), "writing role: conflict");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(StatusTest, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "odd: 3");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).kind(), ErrorKind::kInvalidArgument);
}

TEST(StatusTest, ResultFromOkStatusIsInternalError) {
  Result<int> r = Status::Ok();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kInternal);
}

}  // namespace
}  // namespace taskcred::common
