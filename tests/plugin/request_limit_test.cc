// max_request_bytes through the real plugin: a request larger than the
// mount's limit is refused with a 413 that names the setting, before it is
// parsed (its existence check answers "no check" rather than an error, and
// nothing is written); the limit follows config writes, deletes and a new
// backend instance; out-of-range values are a 400 naming the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr int64_t kMiB = 1024 * 1024;

class PluginRequestLimitTest : public PluginSuite {
 protected:
  void SetUp() override { Ok("delete", "config"); }
  void TearDown() override { Ok("delete", "config"); }

  // A config write whose body is about `bytes` long (an ignored field).
  static RequestSpec Padded(int64_t bytes) {
    RequestSpec spec;
    spec.operation = "update";
    spec.path = "config";
    spec.data = json{{"issuer", "padded-issuer"}, {"padding", std::string(static_cast<size_t>(bytes), 'p')}};
    return spec;
  }
  static std::string Issuer() { return Ok("read", "config")["issuer"].get<std::string>(); }
};

TEST_F(PluginRequestLimitTest, ALargerRequestIsA413NamingTheSettingAndChangesNothing) {
  RequestSpec big = Padded(2 * kMiB);
  auto check = mount().HandleExistenceCheck(big);
  ASSERT_TRUE(check.ok()) << check.status.error_message();
  EXPECT_FALSE(check.reply.check_found()) << "an oversized existence check is not parsed";
  EXPECT_FALSE(check.reply.has_err());

  RequestResult r = mount().HandleRequest(big);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.http_status, 413);
  EXPECT_THAT(r.error, HasSubstr("max_request_bytes (1048576)"));
  EXPECT_THAT(r.error, HasSubstr("request too large"));
  EXPECT_EQ(Issuer(), "vault-taskcred") << "the refused write changed the config";
  EXPECT_EQ(Ok("read", "config")["max_request_bytes"], 1048576);

  // Just under the limit is parsed and handled (the padding is ignored).
  RequestResult small = mount().HandleRequest(Padded(kMiB - 4096));
  EXPECT_TRUE(small.http_status == 200 || small.http_status == 204) << small.http_status << " " << small.error;
  EXPECT_EQ(Issuer(), "padded-issuer");
}

TEST_F(PluginRequestLimitTest, TheLimitFollowsConfigWritesDeletesAndANewInstance) {
  Ok("update", "config", {{"max_request_bytes", 4 * kMiB}});
  RequestResult taken = mount().HandleRequest(Padded(3 * kMiB));
  EXPECT_TRUE(taken.http_status == 200 || taken.http_status == 204) << taken.http_status << " " << taken.error;
  EXPECT_EQ(Issuer(), "padded-issuer");
  EXPECT_EQ(mount().HandleRequest(Padded(5 * kMiB)).http_status, 413);

  // A new backend instance over the same storage (a remount, a plugin
  // restart) applies it from Initialize, before any request reads config.
  SetupOptions same;
  same.storage = mount().shared_storage();
  auto restarted = host().Setup(same);
  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  ASSERT_TRUE((*restarted)->Initialize().ok());
  RequestSpec spec = Padded(3 * kMiB);
  RequestResult again = (*restarted)->HandleRequest(spec);
  EXPECT_TRUE(again.http_status == 200 || again.http_status == 204) << again.http_status << " " << again.error;

  Ok("delete", "config");
  EXPECT_EQ(mount().HandleRequest(Padded(3 * kMiB)).http_status, 413) << "delete restores the default limit";
}

TEST_F(PluginRequestLimitTest, OutOfRangeValuesNameTheFieldAndTheRule) {
  for (int64_t bad : std::vector<int64_t>{0, 1000, 64 * 1024 - 1, 32 * kMiB + 1, 64 * kMiB}) {
    RequestResult r = Call("update", "config", {{"max_request_bytes", bad}});
    EXPECT_EQ(r.http_status, 400) << bad;
    EXPECT_THAT(r.error, HasSubstr("max_request_bytes: must be between 65536 (64 KiB) and 33554432 (32 MiB)"))
        << bad;
  }
  EXPECT_EQ(Ok("read", "config")["max_request_bytes"], 1048576);
  Ok("update", "config", {{"max_request_bytes", 64 * 1024}});
  EXPECT_EQ(Ok("read", "config")["max_request_bytes"], 65536);
}

}  // namespace
}  // namespace taskcred::test
