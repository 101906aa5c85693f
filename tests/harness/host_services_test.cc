// Tests of the host-side gRPC pieces: the brokered Storage/SystemView server
// (plaintext and mTLS with pinned peer certs), fault injection, and Vault's
// HTTP status mapping used by the integration tests.
#include <climits>

#include <gtest/gtest.h>

#include "harness/certs.h"
#include "harness/host_services.h"
#include "harness/plugin_host.h"
#include "sdk/plugin/pb/backend.grpc.pb.h"

namespace taskcred::test {
namespace {

using namespace std::chrono_literals;

struct Client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<::pb::Storage::Stub> storage;
  std::unique_ptr<::pb::SystemView::Stub> system;
};

// Dials the broker server as a plugin would: with `client` as identity and
// trusting `server_pem` under the name `server_name` (empty = plaintext).
Client Dial(const BrokerServer& server, const CertKey* client, const std::string& server_pem,
            const std::string& server_name) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(INT_MAX);
  args.SetMaxSendMessageSize(INT_MAX);
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!server_name.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = server_pem;
    if (client != nullptr) {
      ssl.pem_private_key = client->key_pem;
      ssl.pem_cert_chain = client->cert_pem;
    }
    creds = grpc::SslCredentials(ssl);
    args.SetSslTargetNameOverride(server_name);
  }
  Client c;
  c.channel = grpc::CreateCustomChannel("unix:" + server.socket_path(), creds, args);
  c.storage = ::pb::Storage::NewStub(c.channel);
  c.system = ::pb::SystemView::NewStub(c.channel);
  return c;
}

grpc::Status Put(Client& c, const std::string& key, const std::string& value, ::pb::StoragePutReply* rep) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  ::pb::StoragePutArgs args;
  args.mutable_entry()->set_key(key);
  args.mutable_entry()->set_value(value);
  return c.storage->Put(&ctx, args, rep);
}

grpc::Status Get(Client& c, const std::string& key, ::pb::StorageGetReply* rep) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  ::pb::StorageGetArgs args;
  args.set_key(key);
  return c.storage->Get(&ctx, args, rep);
}

TEST(HarnessBrokerTest, PlaintextStorageWithFaultsAndSystemView) {
  auto storage = std::make_shared<FakeStorage>();
  auto sv = std::make_shared<FakeSystemView>();
  SystemViewConfig cfg;
  cfg.default_lease_ttl_ns = 42;
  cfg.plugin_env.set_vault_version("1.2.3");
  sv->Set(cfg);
  auto server = BrokerServer::Start(storage, sv, HostTls{});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  Client c = Dial(**server, nullptr, "", "");

  ::pb::StorageGetReply get;
  ASSERT_TRUE(Get(c, "missing", &get).ok());
  EXPECT_FALSE(get.has_entry());
  EXPECT_EQ(get.err(), "");

  ::pb::StoragePutReply put;
  ASSERT_TRUE(Put(c, "dir/a", std::string(5u << 20, 'z'), &put).ok());
  EXPECT_EQ(put.err(), "");
  ASSERT_TRUE(Put(c, "dir/sub/b", "v", &put).ok());
  ASSERT_TRUE(Put(c, "top", "v", &put).ok());
  EXPECT_EQ(storage->List(""), (std::vector<std::string>{"dir/", "top"}));
  EXPECT_EQ(storage->List("dir/"), (std::vector<std::string>{"a", "sub/"}));
  ASSERT_TRUE(Get(c, "dir/a", &get).ok());
  EXPECT_EQ(get.entry().value().size(), 5u << 20);

  storage->FailPuts(2, "boom");
  for (int i = 0; i < 2; ++i) {
    ::pb::StoragePutReply failed;
    ASSERT_TRUE(Put(c, "x", "v", &failed).ok());
    EXPECT_EQ(failed.err(), "boom");
  }
  ::pb::StoragePutReply ok;
  ASSERT_TRUE(Put(c, "x", "v", &ok).ok());
  EXPECT_EQ(ok.err(), "");
  ::pb::StoragePutReply dots;
  ASSERT_TRUE(Put(c, "a/../b", "v", &dots).ok());
  EXPECT_NE(dots.err(), "");
  EXPECT_EQ(storage->puts(), 7);

  storage->FailNthPut(3, "third");
  for (int i = 1; i <= 4; ++i) {
    ::pb::StoragePutReply r;
    ASSERT_TRUE(Put(c, "n", "v", &r).ok());
    EXPECT_EQ(r.err(), i == 3 ? "third" : "") << "put " << i;
    EXPECT_EQ(storage->nth_put_failed(), i >= 3) << "put " << i;
  }

  grpc::ClientContext ctx;
  ::pb::TTLReply ttl;
  ASSERT_TRUE(c.system->DefaultLeaseTTL(&ctx, {}, &ttl).ok());
  EXPECT_EQ(ttl.ttl(), 42);
  grpc::ClientContext ctx2;
  ::pb::PluginEnvReply env;
  ASSERT_TRUE(c.system->PluginEnv(&ctx2, {}, &env).ok());
  EXPECT_EQ(env.plugin_environment().vault_version(), "1.2.3");
}

TEST(HarnessBrokerTest, MtlsRequiresThePinnedPluginCert) {
  auto host = GenerateAutoMtlsCert();
  auto plugin = GenerateAutoMtlsCert();
  auto stranger = GenerateAutoMtlsCert();
  ASSERT_TRUE(host.ok() && plugin.ok() && stranger.ok());
  HostTls tls{true, host->cert_pem, host->key_pem, plugin->cert_pem};
  auto server = BrokerServer::Start(std::make_shared<FakeStorage>(), std::make_shared<FakeSystemView>(), tls);
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  Client good = Dial(**server, &*plugin, host->cert_pem, "localhost");
  ::pb::StoragePutReply put;
  EXPECT_TRUE(Put(good, "k", "v", &put).ok());  // P-521 both ways

  Client bad = Dial(**server, &*stranger, host->cert_pem, "localhost");
  EXPECT_FALSE(Put(bad, "k", "v", &put).ok());
  Client anonymous = Dial(**server, nullptr, host->cert_pem, "localhost");
  EXPECT_FALSE(Put(anonymous, "k", "v", &put).ok());
}

TEST(HarnessBrokerTest, LegacyCertWorksAsItsOwnTrustAnchor) {
  auto cert = GenerateLegacyTlsCert();
  ASSERT_TRUE(cert.ok());
  HostTls tls{true, cert->cert_pem, cert->key_pem, cert->cert_pem};
  auto server = BrokerServer::Start(std::make_shared<FakeStorage>(), std::make_shared<FakeSystemView>(), tls);
  ASSERT_TRUE(server.ok());
  Client c = Dial(**server, &*cert, cert->cert_pem, cert->common_name);
  ::pb::StoragePutReply put;
  EXPECT_TRUE(Put(c, "k", "v", &put).ok());
}

::pb::HandleRequestReply Reply(std::optional<std::string> data, uint32_t err_type = 0, std::string msg = "",
                               int64_t code = 0) {
  ::pb::HandleRequestReply r;
  if (data) r.mutable_response()->set_data(*data);
  if (err_type != 0 || !msg.empty()) {
    r.mutable_err()->set_err_type(err_type);
    r.mutable_err()->set_err_msg(msg);
    r.mutable_err()->set_err_code(code);
  }
  return r;
}

TEST(HarnessVaultStatusTest, Table) {
  struct Case {
    ::pb::HandleRequestReply reply;
    std::string op;
    int want;
  };
  std::vector<Case> cases = {
      {Reply(R"({"a":1})"), "read", 200},
      {Reply(std::nullopt), "read", 404},
      {Reply(std::nullopt), "update", 204},
      {Reply(R"({"error":"bad field"})"), "update", 400},
      {Reply(R"({"error":"nope"})", 8, "permission denied"), "read", 403},
      {Reply(std::nullopt, 5, ""), "delete", 405},
      {Reply(std::nullopt, 6, ""), "read", 404},
      {Reply(std::nullopt, 7, ""), "read", 400},
      {Reply(std::nullopt, 3, "conflict", 409), "update", 409},
      {Reply(std::nullopt, 4, "bad"), "update", 400},
      {Reply(std::nullopt, 2, "oops"), "read", 500},
      {Reply(std::nullopt, 10, "gone"), "revoke", 500},
      {Reply(std::nullopt, 11, "unknown kind"), "update", 204},  // host ignores err_type >= 11
      {Reply(R"({"keys":[]})"), "list", 404},
      {Reply(R"({"keys":["a"]})"), "list", 200},
      {Reply(""), "read", 500},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(VaultHttpStatus(cases[i].reply, cases[i].op), cases[i].want) << i << " " << cases[i].reply.DebugString();
  }
}

}  // namespace
}  // namespace taskcred::test
