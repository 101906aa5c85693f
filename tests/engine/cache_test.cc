#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

// Two mounts over one storage model an active node (a) and a standby (b):
// b serves from its caches until Vault tells it a key changed.
class CacheTest : public ::testing::Test {
 protected:
  CacheTest() : storage_(std::make_shared<logical::InmemStorage>()), a_(storage_), b_(storage_) {}
  std::shared_ptr<logical::InmemStorage> storage_;
  EngineHarness a_;
  EngineHarness b_;
};

TEST_F(CacheTest, RoleCacheIsDroppedOnInvalidateKey) {
  ASSERT_TRUE(a_.Write("roles/r", {{"task", "one"}, {"grants", {"read kv://a/b"}}}).ok());
  EXPECT_EQ(Issue(b_, "creds/r").data["task"], "one");  // b caches the role
  ASSERT_TRUE(a_.Write("roles/r", {{"task", "two"}}).ok());
  EXPECT_EQ(Issue(b_, "creds/r").data["task"], "one");  // stale until invalidated
  b_.backend().InvalidateKey("roles/r");
  EXPECT_EQ(Issue(b_, "creds/r").data["task"], "two");
}

TEST_F(CacheTest, ConfigCacheIsDroppedOnInvalidateKey) {
  EXPECT_EQ(DataOf(b_.Read("config"))["issuer"], "vault-taskcred");
  ASSERT_TRUE(a_.Write("config", {{"issuer", "new-issuer"}}).ok());
  EXPECT_EQ(DataOf(b_.Read("config"))["issuer"], "vault-taskcred");
  b_.backend().InvalidateKey("config");
  EXPECT_EQ(DataOf(b_.Read("config"))["issuer"], "new-issuer");
}

TEST_F(CacheTest, KeyRingCacheIsDroppedOnInvalidateKey) {
  json before = b_.Jwks();
  json rotated = DataOf(a_.Write("rotate"));
  EXPECT_EQ(b_.Jwks(), before);
  b_.backend().InvalidateKey("keys/ring");
  json after = b_.Jwks();
  EXPECT_EQ(after["keys"][0]["kid"], rotated["active_kid"]);
  EXPECT_EQ(after["keys"].size(), 3u);
}

TEST_F(CacheTest, DeletedRoleIsGoneAfterInvalidateKey) {
  ASSERT_TRUE(a_.Write("roles/r", {{"task", "one"}, {"grants", {"read kv://a/b"}}}).ok());
  Issue(b_, "creds/r");
  ASSERT_TRUE(a_.Delete("roles/r").ok());
  b_.backend().InvalidateKey("roles/r");
  ExpectInvalid(b_.Read("creds/r"), "role");
}

}  // namespace
}  // namespace taskcred::test
