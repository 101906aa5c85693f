// taskcred-verify exit codes and output; taskcred-authz over real loopback
// HTTP (200/401/403, limits, timeouts, logs, graceful SIGTERM). Tokens and
// JWKS are minted in-test; online mode talks to a canned Vault.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/signing_key.h"
#include "kit/http_client.h"
#include "kit/kit_test_util.h"

namespace taskcred::test {
namespace {

using crypto::SigningKey;
using nlohmann::json;
using namespace std::chrono_literals;

const char kIssuer[] = "https://vault.example.com/v1/taskcred";
const char kAudience[] = "files";

int64_t Now() { return UnixNow(); }

json Claims(int64_t exp_offset = 600) {
  return {{"iss", kIssuer},
          {"sub", "entity-1"},
          {"aud", json::array({kAudience})},
          {"iat", Now()},
          {"nbf", Now()},
          {"exp", Now() + exp_offset},
          {"jti", "task-0001"},
          {"task", "report"},
          {"role", "reporter"},
          {"grants", json::array({{{"resource", "http://static.test/public/*"}, {"actions", {"read"}}}})}};
}

class ToolsTest : public ::testing::Test {
 protected:
  SigningKey key_ = *SigningKey::Generate(crypto::Algorithm::kEdDSA);
  SigningKey other_ = *SigningKey::Generate(crypto::Algorithm::kEdDSA);
  TempDir dir_;
  std::string jwks_file_ = dir_.Write("jwks.json", Jwks({{&key_, "k1"}}).dump());
  std::string token_ = Mint(key_, "k1", Claims());

  std::vector<std::string> Offline(std::vector<std::string> extra) {
    std::vector<std::string> a = {"--jwks", jwks_file_, "--issuer", kIssuer, "--audience", kAudience};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static std::string Tampered(const std::string& token) {
    std::string t = token;
    t[t.size() - 3] = t[t.size() - 3] == 'A' ? 'B' : 'A';
    return t;
  }
};

// ---- taskcred-verify ----

TEST_F(ToolsTest, VerifyExitCodesTable) {
  struct Case {
    std::string name;
    std::vector<std::string> args;
    int code;
    std::string out_needle;
  };
  const std::string expired = Mint(key_, "k1", Claims(-120));
  const std::vector<Case> cases = {
      {"valid", Offline({token_}), 0, "valid: task_id=task-0001"},
      {"allowed", Offline({"--resource", "http://static.test/public/a.txt", "--action", "read", token_}), 0,
       "allowed: task_id=task-0001"},
      {"not_allowed", Offline({"--resource", "http://static.test/private/a.txt", "--action", "read", token_}), 1,
       "refused: not_allowed"},
      {"wrong_action", Offline({"--resource", "http://static.test/public/a.txt", "--action", "write", token_}), 1,
       "refused: not_allowed"},
      {"expired", Offline({expired}), 1, "refused: expired"},
      {"tampered", Offline({Tampered(token_)}), 1, "refused: bad_signature"},
      {"unknown_kid", Offline({Mint(other_, "k9", Claims())}), 1, "refused: unknown_kid"},
      {"wrong_audience",
       {"--jwks", jwks_file_, "--issuer", kIssuer, "--audience", "other", token_}, 1, "refused: wrong_audience"},
      {"wrong_issuer", {"--jwks", jwks_file_, "--issuer", "x", "--audience", kAudience, token_}, 1,
       "refused: wrong_issuer"},
      {"malformed", Offline({"abc"}), 1, "refused: malformed"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    RunResult r = RunTool(VerifyPath(), tc.args);
    EXPECT_EQ(r.exit_code, tc.code) << r.out << r.err;
    EXPECT_NE(r.out.find(tc.out_needle), std::string::npos) << r.out;
  }
}

TEST_F(ToolsTest, VerifyUsageErrorsExitTwo) {
  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string err_needle;
  };
  const std::vector<Case> cases = {
      {"no_args", {}, "--jwks"},
      {"no_token", Offline({}), "TOKEN"},
      {"two_tokens", Offline({"a", "b"}), "TOKEN"},
      {"unknown_flag", Offline({"--bogus", token_}), "unknown flag --bogus"},
      {"missing_value", {"--jwks"}, "--jwks needs a value"},
      {"no_issuer", {"--jwks", jwks_file_, "--audience", "a", token_}, "--issuer"},
      {"resource_without_action", Offline({"--resource", "s3://b/x", token_}), "--resource and --action"},
      {"missing_jwks_file", {"--jwks", "/nonexistent.json", "--issuer", "i", "--audience", "a", token_},
       "cannot read JWKS file"},
      {"leeway_too_big", Offline({"--leeway", "301", token_}), "--leeway"},
      {"consume_offline", Offline({"--consume", token_}), "--consume needs --introspect"},
      {"introspect_without_addr", {"--introspect", "--vault-token", "t", token_}, "--vault-addr"},
      {"jwks_and_introspect", Offline({"--introspect", token_}), "exclude"},
      {"status_list_online", {"--introspect", "--vault-addr", "http://127.0.0.1:1", "--vault-token", "t",
                              "--status-list", "/tmp/x", token_}, "--status-list is for --jwks"},
      {"status_list_and_off", Offline({"--status-list", jwks_file_, "--no-status-list", token_}), "exclude"},
      {"status_list_not_a_list", Offline({"--status-list", jwks_file_, token_}), "not a status list token"},
      {"status_max_stale_negative", Offline({"--status-max-stale", "-1", token_}), "--status-max-stale"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    RunResult r = RunTool(VerifyPath(), tc.args);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(tc.err_needle), std::string::npos) << r.err;
  }
}

TEST_F(ToolsTest, VerifyUnreachableJwksExitsTwo) {
  RunResult r = RunTool(VerifyPath(), {"--jwks", "http://127.0.0.1:" + std::to_string(FreePort()) + "/jwks", "--issuer",
                                   kIssuer, "--audience", kAudience, token_});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("jwks_unavailable"), std::string::npos) << r.out;
}

TEST_F(ToolsTest, VerifyJwksFromUrlAndFromAVaultEnvelopeFile) {
  std::atomic<int> status{200};
  TestHttpServer jwks([&](const TestRequest& req) {
    TestResponse res;
    res.status = status.load();
    res.body = req.target == "/v1/taskcred/jwks" ? Jwks({{&key_, "k1"}}).dump() : "{}";
    return res;
  });
  const std::string url = jwks.url() + "/v1/taskcred/jwks";
  RunResult r = RunTool(VerifyPath(), {"--jwks", url, "--issuer", kIssuer, "--audience", kAudience, "--json", token_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out, nullptr, false).value("reason", ""), "ok") << r.out;
  EXPECT_EQ(jwks.request_count(), 1);

  status = 500;
  r = RunTool(VerifyPath(), {"--jwks", url, "--issuer", kIssuer, "--audience", kAudience, "--json", token_});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out, nullptr, false).value("reason", ""), "jwks_unavailable") << r.out;

  // `vault read -format=json taskcred/jwks` output: {"data":{"keys":[...]}}.
  const std::string enveloped = dir_.Write("vault-read.json", json({{"data", Jwks({{&key_, "k1"}})}}).dump());
  r = RunTool(VerifyPath(), {"--jwks", enveloped, "--issuer", kIssuer, "--audience", kAudience, token_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(ToolsTest, VerifyHelpIsCompleteAndExitsZero) {
  RunResult r = RunTool(VerifyPath(), {"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--jwks", "--issuer", "--audience", "--resource", "--action", "--leeway", "--introspect",
                           "--vault-addr", "--vault-token", "--namespace", "--mount", "--consume", "--ca-file",
                           "--insecure-skip-verify", "--timeout-ms", "--json", "exit status", "VAULT_ADDR",
                           "VAULT_TOKEN"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

TEST_F(ToolsTest, VerifyJsonOutputAndTokenFromStdin) {
  RunResult r = RunWithStdin(
      VerifyPath(), Offline({"--json", "--resource", "http://static.test/public/a.txt", "--action", "read", "-"}),
      token_ + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["allowed"], true);
  EXPECT_EQ(j["reason"], "ok");
  EXPECT_EQ(j["claims"]["task_id"], "task-0001");
  EXPECT_EQ(j["claims"]["grants"][0]["resource"], "http://static.test/public/*");

  r = RunTool(VerifyPath(), Offline({"--json", Mint(key_, "k1", Claims(-120))}));
  EXPECT_EQ(r.exit_code, 1);
  j = json::parse(r.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["reason"], "expired");
  EXPECT_EQ(r.out.find(token_), std::string::npos);
}

TEST_F(ToolsTest, VerifyIntrospectModeWithEnvDefaults) {
  std::mutex mu;
  json seen;
  std::string seen_token_header;
  bool active = true;
  TestHttpServer vault([&](const TestRequest& req) {
    std::lock_guard lock(mu);
    seen = json::parse(req.body, nullptr, false);
    seen_token_header = req.headers.count("x-vault-token") ? req.headers.at("x-vault-token") : "";
    TestResponse res;
    if (!active) {
      res.body = json({{"data", {{"active", false}}}}).dump();
      return res;
    }
    res.body = json({{"data",
                      {{"active", true},
                       {"iss", kIssuer},
                       {"task_id", "task-0001"},
                       {"task", "report"},
                       {"role", "reporter"},
                       {"sub", "entity-1"},
                       {"aud", {kAudience}},
                       {"grants", Claims()["grants"]},
                       {"allowed", true}}}})
                   .dump();
    return res;
  });
  Env env = {{"VAULT_ADDR", vault.url()}, {"VAULT_TOKEN", "hvs.from-env"}};
  RunResult r = RunTool(VerifyPath(),
                    {"--introspect", "--consume", "--resource", "http://static.test/public/a", "--action", "read",
                     token_},
                    env);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen_token_header, "hvs.from-env");
    EXPECT_EQ(seen["consume"], true);
    EXPECT_EQ(seen["token"], token_);
    active = false;
  }
  r = RunTool(VerifyPath(), {"--introspect", token_}, env);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("refused: inactive"), std::string::npos);
}

// ---- taskcred-authz ----

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

Reply Get(int port, const std::string& path, const kit::HttpHeaders& headers) {
  kit::HttpOptions o;
  o.timeout = 5s;
  auto r = kit::HttpCall("GET", "http://127.0.0.1:" + std::to_string(port) + path, headers, "", o);
  Reply out;
  if (!r.ok()) {
    out.body = r.status().ToString();
    return out;
  }
  out.status = r->status;
  out.body = r->body;
  return out;
}

// Raw exchange for header inspection: returns the whole response text.
std::string RawExchange(int port, const std::string& request, std::chrono::milliseconds timeout = 5s) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  WriteAll(fd, request);
  auto [text, eof] = ReadAll(fd, timeout);
  ::close(fd);
  return text;
}

class AuthzTest : public ToolsTest {
 protected:
  void SetUp() override {
    sidecar_ = Sidecar::Start(Offline({"--read-timeout-ms", "400", "--threads", "2"}));
    ASSERT_NE(sidecar_, nullptr);
  }
  kit::HttpHeaders Headers(const std::string& token, const std::string& resource = "http://static.test/public/a.txt",
                           const std::string& action = "read") {
    kit::HttpHeaders h;
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    if (!resource.empty()) h.emplace_back("X-Resource", resource);
    if (!action.empty()) h.emplace_back("X-Action", action);
    return h;
  }
  std::unique_ptr<Sidecar> sidecar_;
};

TEST_F(AuthzTest, DecisionsTable) {
  struct Case {
    std::string name;
    kit::HttpHeaders headers;
    int status;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"allowed", Headers(token_), 200, "ok"},
      {"no_credential", Headers(""), 401, "missing_credential"},
      {"tampered", Headers(Tampered(token_)), 401, "bad_signature"},
      {"expired", Headers(Mint(key_, "k1", Claims(-120))), 401, "expired"},
      {"unknown_kid", Headers(Mint(other_, "k9", Claims())), 401, "unknown_kid"},
      {"outside_grants", Headers(token_, "http://static.test/private/a.txt"), 403, "not_allowed"},
      {"wrong_action", Headers(token_, "http://static.test/public/a.txt", "write"), 403, "not_allowed"},
      {"traversal", Headers(token_, "http://static.test/public/../private/a.txt"), 403, "not_allowed"},
      {"no_resource", Headers(token_, "", "read"), 403, "missing_resource_or_action"},
      {"basic_auth", {{"Authorization", "Basic dXNlcjpwdw=="}, {"X-Resource", "http://static.test/public/a"},
                      {"X-Action", "read"}}, 401, "missing_credential"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    Reply r = Get(sidecar_->port(), "/check", tc.headers);
    EXPECT_EQ(r.status, tc.status) << r.body;
    json body = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << r.body;
    EXPECT_EQ(body["reason"], tc.reason);
    EXPECT_EQ(body["allowed"], tc.status == 200);
  }
  EXPECT_EQ(Get(sidecar_->port(), "/healthz", {}).status, 200);
  EXPECT_EQ(Get(sidecar_->port(), "/other", Headers(token_)).status, 404);
}

TEST_F(AuthzTest, ResponseHeadersForProxies) {
  std::string ok = RawExchange(sidecar_->port(), "GET /check HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                                 "Authorization: Bearer " + token_ +
                                                 "\r\nX-Resource: http://static.test/public/a\r\nX-Action: read\r\n\r\n");
  EXPECT_NE(ok.find("HTTP/1.1 200"), std::string::npos) << ok;
  EXPECT_NE(ok.find("X-Taskcred-Task-Id: task-0001"), std::string::npos) << ok;
  EXPECT_NE(ok.find("X-Taskcred-Role: reporter"), std::string::npos) << ok;
  std::string missing = RawExchange(sidecar_->port(), "GET /check HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(missing.find("HTTP/1.1 401"), std::string::npos) << missing;
  EXPECT_NE(missing.find("WWW-Authenticate: Bearer realm=\"taskcred\""), std::string::npos) << missing;
  std::string bad = RawExchange(sidecar_->port(), "GET /check HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                                  "Authorization: Bearer " + Mint(key_, "k1", Claims(-100)) +
                                                  "\r\nX-Resource: http://static.test/public/a\r\nX-Action: read\r\n\r\n");
  EXPECT_NE(bad.find("error=\"invalid_token\", error_description=\"expired\""), std::string::npos) << bad;
}

TEST_F(AuthzTest, KeepAliveServesSeveralRequests) {
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  int fd = ConnectLoopback(sidecar_->port());
  ASSERT_GE(fd, 0);
  WriteAll(fd, req + req + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto [text, eof] = ReadAll(fd, 3s);
  ::close(fd);
  EXPECT_TRUE(eof);
  size_t count = 0;
  for (size_t p = text.find("HTTP/1.1 200"); p != std::string::npos; p = text.find("HTTP/1.1 200", p + 1)) ++count;
  EXPECT_EQ(count, 3u) << text;
}

TEST_F(AuthzTest, OversizedHeaderIs431AndBadRequestIs400) {
  std::string big = "GET /check HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(40000, 'a') + "\r\n\r\n";
  std::string r = RawExchange(sidecar_->port(), big);
  EXPECT_NE(r.find("HTTP/1.1 431"), std::string::npos) << r.substr(0, 200);
  r = RawExchange(sidecar_->port(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_NE(r.find("HTTP/1.1 400"), std::string::npos) << r.substr(0, 200);
  std::string body = "POST /check HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'b');
  r = RawExchange(sidecar_->port(), body);
  EXPECT_NE(r.find("HTTP/1.1 413"), std::string::npos) << r.substr(0, 200);
  EXPECT_EQ(Get(sidecar_->port(), "/healthz", {}).status, 200);  // still serving
}

TEST_F(AuthzTest, SlowClientIsDisconnected) {
  int fd = ConnectLoopback(sidecar_->port());
  ASSERT_GE(fd, 0);
  WriteAll(fd, "GET /check HTTP/1.1\r\nHost: x\r\n");  // never finishes the header
  auto start = std::chrono::steady_clock::now();
  auto [text, eof] = ReadAll(fd, 5s);
  ::close(fd);
  EXPECT_TRUE(eof) << "the sidecar kept a stalled connection open";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(Get(sidecar_->port(), "/healthz", {}).status, 200);
}

TEST_F(AuthzTest, LogsOneJsonLinePerDecisionWithoutTheCredential) {
  ASSERT_EQ(Get(sidecar_->port(), "/check", Headers(token_)).status, 200);
  ASSERT_EQ(Get(sidecar_->port(), "/check", Headers(token_, "http://static.test/private/x")).status, 403);
  auto line = sidecar_->process().WaitForStderrLine(
      [](const std::string& l) { return l.find("not_allowed") != std::string::npos; }, 5s);
  ASSERT_TRUE(line.has_value());
  int decisions = 0;
  for (const std::string& l : sidecar_->process().StderrLines()) {
    json j = json::parse(l, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << l;
    EXPECT_EQ(l.find(token_), std::string::npos) << "credential leaked into the log";
    EXPECT_EQ(l.find(token_.substr(token_.rfind('.') + 1)), std::string::npos);
    if (j.value("@message", "") != "decision") continue;
    ++decisions;
    EXPECT_TRUE(j.contains("status") && j.contains("reason") && j.contains("resource") && j.contains("action"));
    EXPECT_EQ(j["task_id"], "task-0001");
  }
  EXPECT_EQ(decisions, 2);
}

TEST_F(AuthzTest, UsageErrorsAndHelp) {
  RunResult r = RunTool(AuthzPath(), {"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--listen", "--jwks", "--introspect", "--threads", "--max-header-bytes", "--max-body-bytes",
                           "--read-timeout-ms", "--write-timeout-ms", "--shutdown-grace-ms", "/check", "/healthz"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
  r = RunTool(AuthzPath(), Offline({}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--listen"), std::string::npos);
  r = RunTool(AuthzPath(), Offline({"--listen", "127.0.0.1:99999"}));
  EXPECT_EQ(r.exit_code, 2);
  r = RunTool(AuthzPath(), Offline({"--listen", "127.0.0.1:0", "--threads", "0"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--threads"), std::string::npos);
}

TEST(AuthzShutdownTest, SigtermFinishesInFlightRequestsAndClosesIdleOnes) {
  // Online mode against a slow Vault: a request is in flight when SIGTERM lands.
  TestHttpServer vault([](const TestRequest&) {
    TestResponse res;
    res.delay = 800ms;
    res.body = json({{"data",
                      {{"active", true},
                       {"task_id", "t-slow"},
                       {"grants", json::array({{{"resource", "s3://b/x"}, {"actions", {"read"}}}})},
                       {"allowed", true}}}})
                   .dump();
    return res;
  });
  auto sidecar = Sidecar::Start({"--introspect", "--vault-addr", vault.url(), "--vault-token", "t"});
  ASSERT_NE(sidecar, nullptr);
  int idle = ConnectLoopback(sidecar->port());  // a keep-alive connection with no request
  ASSERT_GE(idle, 0);
  auto in_flight = std::async(std::launch::async, [&] {
    return Get(sidecar->port(), "/check",
               {{"Authorization", "Bearer opaque"}, {"X-Resource", "s3://b/x"}, {"X-Action", "read"}});
  });
  ASSERT_TRUE(vault.WaitForRequests(1, 5s));
  sidecar->process().Signal(SIGTERM);
  Reply r = in_flight.get();
  EXPECT_EQ(r.status, 200) << r.body;
  auto [text, eof] = ReadAll(idle, 3s);
  ::close(idle);
  EXPECT_TRUE(eof) << "idle connection not closed at shutdown";
  auto exit = sidecar->process().WaitExit(5s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->exited && exit->code == 0) << exit->ToString();
  EXPECT_NE(sidecar->process().StderrText().find("\"stopped\""), std::string::npos);
}

}  // namespace
}  // namespace taskcred::test
