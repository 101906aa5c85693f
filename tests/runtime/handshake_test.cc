#include "runtime/handshake.h"
#include "runtime/test_support.h"

#include <gtest/gtest.h>

#include <map>

namespace taskcred::runtime {
namespace {

using test::FakeEnv;

TEST(HandshakeTest, NegotiateVersionTable) {
  struct Case {
    std::optional<std::string> offered;
    int want;
  };
  const std::vector<Case> cases = {
      {"3,4", 4}, {"4,3", 4}, {"5", 5},  {"4,5", 5}, {"5,4", 5},      {"6", 4},
      {"garbage", 4}, {"", 4}, {std::nullopt, 4}, {"3", 3}, {" 5 , x", 5}, {"5,6", 5},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.offered.value_or("<unset>"));
    EXPECT_EQ(NegotiateVersion(c.offered ? std::optional<std::string_view>(*c.offered) : std::nullopt), c.want);
  }
}

TEST(HandshakeTest, RawStdBase64HasNoPadding) {
  struct Case {
    std::string in, want;
  };
  const std::vector<Case> cases = {
      {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"\xff\xfe", "//4"},
  };
  for (const auto& c : cases) EXPECT_EQ(RawStdBase64(c.in), c.want) << c.in;
}

TEST(HandshakeTest, LineFormatting) {
  EXPECT_EQ(FormatHandshakeLine(4, "unix", "/tmp/plugin1", "", std::nullopt), "1|4|unix|/tmp/plugin1|grpc|\n");
  EXPECT_EQ(FormatHandshakeLine(5, "unix", "/tmp/p", "f", std::nullopt), "1|5|unix|/tmp/p|grpc|Zg\n");
  EXPECT_EQ(FormatHandshakeLine(5, "unix", "/tmp/p", "f", false), "1|5|unix|/tmp/p|grpc|Zg|false\n");
  EXPECT_EQ(FormatHandshakeLine(5, "unix", "/tmp/p", "foo", true), "1|5|unix|/tmp/p|grpc|Zm9v|true\n");
  // The line is a single line with no '=' padding in the cert.
  std::string line = FormatHandshakeLine(5, "unix", "/x", std::string(100, '\x01'), std::nullopt);
  EXPECT_EQ(line.find('='), std::string::npos);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(HandshakeTest, BaoBeforeVault) {
  EXPECT_EQ(LookupBaoOrVault(FakeEnv({{"BAO_X", "bao"}, {"VAULT_X", "vault"}}), "X"), "bao");
  EXPECT_EQ(LookupBaoOrVault(FakeEnv({{"VAULT_X", "vault"}}), "X"), "vault");
  EXPECT_EQ(LookupBaoOrVault(FakeEnv({{"BAO_X", ""}, {"VAULT_X", "vault"}}), "X"), "");
  EXPECT_EQ(LookupBaoOrVault(FakeEnv({}), "X"), std::nullopt);
}

TEST(HandshakeTest, GoBool) {
  bool b = false;
  EXPECT_TRUE(ParseGoBool("true", &b));
  EXPECT_TRUE(b);
  EXPECT_TRUE(ParseGoBool("0", &b));
  EXPECT_FALSE(b);
  EXPECT_FALSE(ParseGoBool("yes", &b));
}

TEST(HandshakeTest, SocketDirectoryOrder) {
  EXPECT_EQ(SocketDirectory(FakeEnv({{"PLUGIN_UNIX_SOCKET_DIR", "/a"}, {"TMPDIR", "/b"}})), "/a");
  EXPECT_EQ(SocketDirectory(FakeEnv({{"TMPDIR", "/b"}})), "/b");
  EXPECT_EQ(SocketDirectory(FakeEnv({})), "/tmp");
}

TEST(HandshakeTest, ResolveGroup) {
  auto gid = ResolveGroup("1234");
  ASSERT_TRUE(gid.ok());
  EXPECT_EQ(*gid, 1234u);
  EXPECT_TRUE(ResolveGroup("root").ok());
  EXPECT_EQ(ResolveGroup("no-such-group-taskcred").status().kind(), common::ErrorKind::kInvalidArgument);
}

TEST(HandshakeTest, NotAPluginMessageMentionsRegistration) {
  std::string m = NotAPluginMessage("/usr/bin/x");
  EXPECT_NE(m.find("is a Vault/OpenBao plugin"), std::string::npos);
  EXPECT_NE(m.find("plugin register"), std::string::npos);
}

}  // namespace
}  // namespace taskcred::runtime
