// The raw request helpers: the size check against a backend's limit and the
// parse that releases the received bytes.
#include "runtime/raw_request.h"

#include <gtest/gtest.h>

#include "sdk/plugin/pb/backend.pb.h"

namespace taskcred::runtime {
namespace {

namespace tl = taskcred::logical;

// A backend with `limit` as its MaxRequestBytes, or the default when none.
class LimitedBackend final : public tl::Backend {
 public:
  explicit LimitedBackend(std::optional<size_t> limit = std::nullopt) : limit_(limit) {}
  common::Status Initialize(tl::Storage&, tl::SystemView&) override { return common::Status::Ok(); }
  tl::HandlerResult HandleRequest(tl::Request&) override { return std::optional<tl::Response>(); }
  common::Result<tl::ExistenceCheckResult> HandleExistenceCheck(tl::Request&) override {
    return tl::ExistenceCheckResult{};
  }
  tl::Paths SpecialPaths() const override { return {}; }
  tl::BackendType Type() const override { return tl::BackendType::kLogical; }
  size_t MaxRequestBytes() const override { return limit_ ? *limit_ : tl::Backend::MaxRequestBytes(); }
  void InvalidateKey(std::string_view) override {}
  void Cleanup() override {}

 private:
  std::optional<size_t> limit_;
};

TEST(RawRequestTest, TooLargeIsA413NamingSizeAndLimitOnlyAboveTheLimit) {
  LimitedBackend b(1000);
  EXPECT_FALSE(TooLarge(0, b));
  EXPECT_FALSE(TooLarge(1000, b));
  std::optional<common::Status> s = TooLarge(1001, b);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind(), common::ErrorKind::kCoded);
  EXPECT_EQ(s->http_code(), 413);
  EXPECT_EQ(s->message(), "request too large: 1001 bytes as received, more than this mount's max_request_bytes (1000)");
}

TEST(RawRequestTest, TheDefaultLimitIsOneMebibyte) {
  LimitedBackend b;
  EXPECT_FALSE(TooLarge(1024 * 1024, b));
  EXPECT_TRUE(TooLarge(1024 * 1024 + 1, b));
}

TEST(RawRequestTest, ParseRoundTripsAndReleasesTheReceivedBytes) {
  ::pb::HandleRequestArgs args;
  args.mutable_request()->set_path("config");
  args.mutable_request()->set_data(std::string(100000, 'x'));
  grpc::ByteBuffer wire;
  ASSERT_TRUE(SerializeRaw(args, &wire).ok());
  EXPECT_GT(wire.Length(), 100000u);
  ::pb::HandleRequestArgs back;
  ASSERT_TRUE(ParseRaw(&wire, &back).ok());
  EXPECT_EQ(wire.Length(), 0u) << "the received bytes are released once parsed";
  EXPECT_EQ(back.request().path(), "config");
  EXPECT_EQ(back.request().data().size(), 100000u);
  Release(back.mutable_request()->mutable_data());
  EXPECT_EQ(back.request().data().capacity(), std::string().capacity());

  grpc::ByteBuffer junk(std::vector<grpc::Slice>{grpc::Slice(std::string("\xff\xff\xff\xff", 4))}.data(), 1);
  EXPECT_FALSE(ParseRaw(&junk, &back).ok());
}

}  // namespace
}  // namespace taskcred::runtime
