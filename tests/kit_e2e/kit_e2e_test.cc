// End-to-end tests of the enforcement kit (issue 6 items 4 and 5):
//
//   KitE2eTest        the REAL taskcred plugin (harness) mints credentials;
//                     taskcred-authz checks them against the plugin's JWKS,
//                     directly and behind Debian's nginx (auth_request,
//                     config rendered from examples/nginx/taskcred.conf.in)
//                     serving a static directory.
// (taskcred-authz alone -- limits, slow clients, signals, flags -- is
// sidecar_limits_test.cc; DPoP-bound credentials through nginx,
// dpop_e2e_test.cc.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/encoding.h"
#include "e2e_util.h"
#include "plugin_fixture.h"

namespace taskcred::test {
namespace {

using e2e::Headers;
using e2e::HttpReply;
using e2e::HttpRequest;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kIssuer[] = "https://vault.e2e.test/v1/taskcred";
constexpr char kAudience[] = "e2e-files";
constexpr char kOkBody[] = "granted file\nwith a second line and bytes \x01\x7f\n";
constexpr char kSecretBody[] = "not granted\n";
constexpr char kPubBody[] = "public-ish, granted by a wildcard\n";

bool RequireNginx() {
  const char* v = std::getenv("TASKCRED_REQUIRE_NGINX");
  return v != nullptr && std::string(v) == "1";
}

std::string Bearer(const std::string& token) { return "Bearer " + token; }

// The payload claims of a JWT (no verification).
json Payload(const std::string& token) {
  size_t a = token.find('.');
  size_t b = token.find('.', a + 1);
  auto decoded = crypto::Base64UrlDecode(token.substr(a + 1, b - a - 1));
  if (!decoded.ok()) return nullptr;
  return json::parse(*decoded, nullptr, false);
}

// The same credential with its grants widened to everything in
// file://data/**, the signature left as it was: an escalation attempt.
std::string Tamper(const std::string& token) {
  size_t a = token.find('.');
  size_t b = token.find('.', a + 1);
  json claims = Payload(token);
  claims["grants"] = json::array({{{"resource", "file://data/**"}, {"actions", {"read"}}}});
  return token.substr(0, a + 1) + crypto::Base64UrlEncode(claims.dump()) + token.substr(b);
}

struct Tokens {
  std::string valid;
  std::string valid_jti;
  std::string other_audience;
  std::string expiring;
  int64_t expiring_exp = 0;
  std::string tampered;
};

// Everything a KitE2eTest suite shares (one plugin, one sidecar, one nginx).
struct World {
  e2e::TempDir dir;
  std::string www;
  std::string jwks_path;
  Tokens tokens;
  std::unique_ptr<e2e::Sidecar> sidecar;
};

class KitE2eTest : public PluginSuite {
 public:
  static World& world() { return *world_ptr(); }

  static void SetUpTestSuite() {
    PluginSuite::SetUpTestSuite();
    if (::testing::Test::HasFatalFailure()) return;
    world_ptr() = std::make_unique<World>();
    World& w = world();
    ASSERT_FALSE(w.dir.path().empty()) << "mkdtemp failed";

    // kIssuer is not fetchable here: no status list entries (the kit's
    // status checks are covered by kit.integration.KitStatusListIntegrationTest).
    Ok("update", "config", {{"issuer", kIssuer}, {"status_list", false}});
    json role = {{"task", "e2e-read"},
                 {"grants", json::array({"read file://data/ok.txt", "read file://data/pub/*"})},
                 {"audience", kAudience},
                 {"ttl", 300}};
    json short_role = role;
    short_role["ttl"] = 1;
    json elsewhere_role = role;
    elsewhere_role["audience"] = "other-service";
    Ok("create", "roles/e2e-short", short_role);
    Ok("create", "roles/e2e-reader", role);
    Ok("create", "roles/e2e-elsewhere", elsewhere_role);

    // The short-lived one first: the tests wait for it to expire.
    RequestResult short_lived = Issue("creds/e2e-short");
    ASSERT_EQ(short_lived.http_status, 200) << short_lived.error;
    w.tokens.expiring = short_lived.data["credential"];
    w.tokens.expiring_exp = Payload(w.tokens.expiring)["exp"].get<int64_t>();

    RequestResult valid = Issue("creds/e2e-reader");
    ASSERT_EQ(valid.http_status, 200) << valid.error;
    w.tokens.valid = valid.data["credential"];
    w.tokens.valid_jti = Payload(w.tokens.valid)["jti"];
    ASSERT_FALSE(w.tokens.valid_jti.empty());
    RequestResult elsewhere = Issue("creds/e2e-elsewhere");
    ASSERT_EQ(elsewhere.http_status, 200) << elsewhere.error;
    w.tokens.other_audience = elsewhere.data["credential"];
    w.tokens.tampered = Tamper(w.tokens.valid);
    RecordSecret(w.tokens.tampered);

    json jwks = RawBody(Call("read", "jwks"));
    ASSERT_TRUE(jwks.is_object() && jwks.contains("keys")) << jwks.dump();
    w.jwks_path = w.dir.Write("jwks.json", jwks.dump());

    w.www = w.dir.Mkdir("www");
    w.dir.Write("www/ok.txt", kOkBody);
    w.dir.Write("www/secret.txt", kSecretBody);
    w.dir.Write("www/pub/a.txt", kPubBody);

    auto sidecar = e2e::Sidecar::Start(
        {"--jwks", w.jwks_path, "--issuer", kIssuer, "--audience", kAudience, "--leeway", "0", "--threads", "2"});
    ASSERT_TRUE(sidecar.ok()) << sidecar.status().ToString();
    w.sidecar = std::move(sidecar).value();
  }

  static void TearDownTestSuite() {
    if (world_ptr() && world_ptr()->sidecar) {
      e2e::Sidecar& s = *world_ptr()->sidecar;
      s.process().Signal(SIGTERM);
      auto exit = s.process().WaitExit(std::chrono::seconds(10));
      EXPECT_TRUE(exit && exit->exited && exit->code == 0) << (exit ? exit->ToString() : "still running");
      if (exit) s.process().WaitOutputClosed();
      ExpectNoCredentialIn("taskcred-authz stderr", s.process().StderrText());
    }
    world_ptr().reset();
    PluginSuite::TearDownTestSuite();
  }

  // No credential (nor its signature, the part that makes it usable) in `text`.
  static void ExpectNoCredentialIn(const std::string& what, const std::string& text) {
    const Tokens& t = world().tokens;
    for (const std::string& token : {t.valid, t.other_audience, t.expiring, t.tampered}) {
      EXPECT_EQ(text.find(token), std::string::npos) << "a credential reached " << what;
      std::string signature = token.substr(token.rfind('.') + 1);
      EXPECT_EQ(text.find(signature), std::string::npos) << "a credential signature reached " << what;
    }
  }

  // Waits for the short-lived credential to be past its exp (the sidecar
  // runs with --leeway 0). The clock is the condition; nothing else to await.
  static void AwaitExpiry() {
    const auto exp = std::chrono::system_clock::time_point(std::chrono::seconds(world().tokens.expiring_exp));
    const auto now = std::chrono::system_clock::now();
    ASSERT_LT(exp - now, std::chrono::seconds(5)) << "the 1 s credential expires too late";
    if (now < exp + std::chrono::milliseconds(1100)) std::this_thread::sleep_until(exp + std::chrono::milliseconds(1100));
  }

 private:
  static std::unique_ptr<World>& world_ptr() {
    static std::unique_ptr<World> w;
    return w;
  }
};

struct Case {
  std::string name;
  std::string method;
  std::string target;
  std::optional<std::string> authorization;  // nullopt: no header
  int want_status;
  std::string want_body;             // checked when non-empty
  std::string want_www_authenticate;  // substring; checked when non-empty
  Headers extra = {};                 // more request headers
};

std::vector<Case> Cases(const Tokens& t) {
  return {
      {"NoToken", "GET", "/ok.txt", std::nullopt, 401, "", "Bearer realm=\"taskcred\""},
      {"NotBearer", "GET", "/ok.txt", "Basic dXNlcjpwYXNz", 401, "", "Bearer"},
      {"ValidGranted", "GET", "/ok.txt", Bearer(t.valid), 200, kOkBody, ""},
      {"ValidGrantedHead", "HEAD", "/ok.txt", Bearer(t.valid), 200, "", ""},
      {"ValidWildcardGrant", "GET", "/pub/a.txt", Bearer(t.valid), 200, kPubBody, ""},
      {"ValidOtherFile", "GET", "/secret.txt", Bearer(t.valid), 403, "", ""},
      {"ValidMissingFileOutsideGrant", "GET", "/nope.txt", Bearer(t.valid), 403, "", ""},
      {"ValidWrongAction", "PUT", "/ok.txt", Bearer(t.valid), 403, "", ""},
      {"ValidUnknownMethod", "OPTIONS", "/ok.txt", Bearer(t.valid), 403, "", ""},
      // nginx decodes and normalises $uri before the check, so the check
      // and the file served agree: these ask for the files they resolve to.
      {"EncodedDotResolvesToGranted", "GET", "/ok%2etxt", Bearer(t.valid), 200, kOkBody, ""},
      {"DotDotOutOfWildcard", "GET", "/pub/../secret.txt", Bearer(t.valid), 403, "", ""},
      {"DoubleSlashToGranted", "GET", "//ok.txt", Bearer(t.valid), 200, kOkBody, ""},
      {"QueryStringIgnored", "GET", "/ok.txt?x=1", Bearer(t.valid), 200, kOkBody, ""},
      {"Tampered", "GET", "/ok.txt", Bearer(t.tampered), 401, "", "error=\"invalid_token\""},
      {"TamperedOnOtherFile", "GET", "/secret.txt", Bearer(t.tampered), 401, "", "error=\"invalid_token\""},
      {"WrongAudience", "GET", "/ok.txt", Bearer(t.other_audience), 401, "", "wrong_audience"},
      {"Expired", "GET", "/ok.txt", Bearer(t.expiring), 401, "", "expired"},
      {"Garbage", "GET", "/ok.txt", "Bearer not.a.jwt", 401, "", "error=\"invalid_token\""},
      // The client cannot choose what is checked: nginx replaces its
      // X-Resource/X-Action with the ones it computes.
      {"SmuggledResource", "GET", "/secret.txt", Bearer(t.valid), 403, "", "",
       {{"X-Resource", "file://data/ok.txt"}, {"X-Action", "read"}}},
      {"SmuggledAction", "PUT", "/ok.txt", Bearer(t.valid), 403, "", "", {{"X-Action", "read"}}},
      // Encoded CR/LF in the path would split the headers nginx sends to
      // the sidecar (header injection); the config refuses them first.
      {"HeaderInjectionCrLf", "PUT", "/ok.txt%0D%0AX-Action:%20read", Bearer(t.valid), 400, "", ""},
      {"HeaderInjectionLf", "GET", "/secret.txt%0AX-Resource:%20file://data/ok.txt", Bearer(t.valid), 400, "", ""},
      {"HeaderSplitEarly", "GET", "/ok.txt%0D%0A%0D%0AGET%20/healthz", Bearer(t.valid), 400, "", ""},
      {"EncodedDelete", "GET", "/ok.txt%7F", Bearer(t.valid), 400, "", ""},
  };
}

void ExpectReply(const Case& c, const HttpReply& r) {
  SCOPED_TRACE(c.name + ": " + c.method + " " + c.target);
  ASSERT_EQ(r.status, c.want_status) << r.error << "\n" << r.raw;
  if (!c.want_body.empty()) {
    EXPECT_EQ(r.body, c.want_body);
  }
  if (c.want_status != 200) {
    EXPECT_THAT(r.body, Not(HasSubstr(kOkBody))) << "refused, but the file was sent";
  }
  if (!c.want_www_authenticate.empty()) {
    ASSERT_TRUE(r.headers.count("www-authenticate")) << r.raw;
    EXPECT_THAT(r.headers.at("www-authenticate"), HasSubstr(c.want_www_authenticate));
  }
  if (c.name == "NoToken") {
    // RFC 6750 3.1: no error code when the request had no credential.
    auto it = r.headers.find("www-authenticate");
    ASSERT_NE(it, r.headers.end());
    EXPECT_THAT(it->second, Not(HasSubstr("error=")));
  }
}

TEST_F(KitE2eTest, NginxAuthRequestInFrontOfStaticFiles) {
  const std::string nginx_bin = e2e::NginxPath();
  if (nginx_bin.empty()) {
    if (RequireNginx()) FAIL() << "TASKCRED_REQUIRE_NGINX=1 but /usr/sbin/nginx (package nginx-light) is missing";
    GTEST_SKIP() << "nginx not installed (apt-get install nginx-light); set TASKCRED_REQUIRE_NGINX=1 to fail instead";
  }
  World& w = world();
  // Its own sidecar: this test stops it at the end.
  auto started_sidecar = e2e::Sidecar::Start(
      {"--jwks", w.jwks_path, "--issuer", kIssuer, "--audience", kAudience, "--leeway", "0", "--threads", "2"});
  ASSERT_TRUE(started_sidecar.ok()) << started_sidecar.status().ToString();
  std::unique_ptr<e2e::Sidecar> sidecar = std::move(started_sidecar).value();
  const int sidecar_port = sidecar->port();
  std::unique_ptr<e2e::Nginx> nginx;
  // The free port may be taken between probe and bind: retry a few times.
  for (int attempt = 0; attempt < 3 && !nginx; ++attempt) {
    const int port = e2e::FreePort();
    ASSERT_GT(port, 0);
    auto conf = e2e::RenderTemplate(TASKCRED_E2E_NGINX_TEMPLATE,
                                    {{"LISTEN", "127.0.0.1:" + std::to_string(port)},
                                     {"SIDECAR", "127.0.0.1:" + std::to_string(sidecar_port)},
                                     {"ROOT", w.www},
                                     {"RESOURCE_PREFIX", "file://data"}});
    ASSERT_TRUE(conf.ok()) << conf.status().ToString();
    auto started = e2e::Nginx::Start(nginx_bin, w.dir.Mkdir("nginx-" + std::to_string(attempt)), *conf, port);
    if (started.ok()) {
      nginx = std::move(started).value();
    } else if (started.status().message().find("in use") == std::string::npos) {
      FAIL() << started.status().ToString();
    }
  }
  ASSERT_TRUE(nginx) << "nginx could not bind a free port three times";

  AwaitExpiry();
  const size_t decisions_before = sidecar->DecisionLines().size();
  int sidecar_asked = 0;
  for (const Case& c : Cases(w.tokens)) {
    Headers headers;
    if (c.authorization) headers.push_back({"Authorization", *c.authorization});
    headers.insert(headers.end(), c.extra.begin(), c.extra.end());
    ExpectReply(c, HttpRequest(nginx->port(), c.method, c.target, headers));
    if (c.want_status != 400) ++sidecar_asked;  // nginx answers 400 itself
  }

  // Every request went through the sidecar: one decision line each.
  EXPECT_EQ(sidecar->DecisionLines().size() - decisions_before, static_cast<size_t>(sidecar_asked));
  // The decision log is structured and names what nginx asked for.
  bool saw_allow = false, saw_escape_attempt = false;
  for (const std::string& line : sidecar->DecisionLines()) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    for (const char* field : {"decision", "status", "reason", "resource", "action"}) {
      EXPECT_TRUE(j.contains(field)) << field << " missing in " << line;
    }
    if (j["decision"] == "allow") {
      saw_allow = true;
      EXPECT_EQ(j["task_id"], w.tokens.valid_jti) << line;
      EXPECT_EQ(j["resource"].get<std::string>().rfind("file://data/", 0), 0u) << line;
    }
    if (j["resource"] == "file://data/secret.txt" && j["status"] == 403) saw_escape_attempt = true;
  }
  EXPECT_TRUE(saw_allow);
  EXPECT_TRUE(saw_escape_attempt) << "/pub/../secret.txt was not checked as file://data/secret.txt";

  // nginx's access log names the task (auth_request_set), never the token.
  const std::string access = nginx->AccessLog();
  EXPECT_THAT(access, HasSubstr("task_id=" + w.tokens.valid_jti));
  ExpectNoCredentialIn("the nginx access log", access);
  ExpectNoCredentialIn("the nginx error log", nginx->ErrorLog());
  ExpectNoCredentialIn("taskcred-authz stderr", sidecar->process().StderrText());

  // The sidecar is the gate: with it gone nginx fails closed (500), it does
  // not serve the file.
  sidecar->process().Signal(SIGTERM);
  auto exit = sidecar->process().WaitExit(std::chrono::seconds(10));
  ASSERT_TRUE(exit && exit->exited && exit->code == 0) << (exit ? exit->ToString() : "still running");
  sidecar->process().WaitOutputClosed();
  ExpectNoCredentialIn("taskcred-authz stderr", sidecar->process().StderrText());
  HttpReply down = HttpRequest(nginx->port(), "GET", "/ok.txt", {{"Authorization", Bearer(w.tokens.valid)}});
  EXPECT_EQ(down.status, 500) << down.raw;
  EXPECT_THAT(down.body, Not(HasSubstr(kOkBody)));
}

TEST_F(KitE2eTest, SidecarDecidesOnPluginCredentials) {
  World& w = world();
  const int port = w.sidecar->port();
  auto check = [&](const std::optional<std::string>& token, const std::string& resource, const std::string& action) {
    Headers h;
    if (token) h.push_back({"Authorization", Bearer(*token)});
    if (!resource.empty()) h.push_back({"X-Resource", resource});
    if (!action.empty()) h.push_back({"X-Action", action});
    return HttpRequest(port, "GET", "/check", h);
  };
  HttpReply ok = check(w.tokens.valid, "file://data/ok.txt", "read");
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.headers["x-taskcred-task-id"], w.tokens.valid_jti);
  EXPECT_EQ(ok.headers["x-taskcred-task"], "e2e-read");
  EXPECT_EQ(ok.headers["x-taskcred-role"], "e2e-reader");
  EXPECT_EQ(json::parse(ok.body, nullptr, false), json({{"allowed", true}, {"reason", "ok"}}));

  struct Refusal {
    std::string name;
    std::optional<std::string> token;
    std::string resource, action;
    int status;
    std::string reason;
  };
  AwaitExpiry();
  const std::vector<Refusal> refusals = {
      {"OtherFile", w.tokens.valid, "file://data/secret.txt", "read", 403, "not_allowed"},
      {"OtherAction", w.tokens.valid, "file://data/ok.txt", "write", 403, "not_allowed"},
      {"NonCanonicalResource", w.tokens.valid, "file://data/pub/../secret.txt", "read", 403, "not_allowed"},
      {"MissingResource", w.tokens.valid, "", "read", 403, "missing_resource_or_action"},
      {"MissingAction", w.tokens.valid, "file://data/ok.txt", "", 403, "missing_resource_or_action"},
      {"NoToken", std::nullopt, "file://data/ok.txt", "read", 401, "missing_credential"},
      {"Tampered", w.tokens.tampered, "file://data/secret.txt", "read", 401, "bad_signature"},
      {"WrongAudience", w.tokens.other_audience, "file://data/ok.txt", "read", 401, "wrong_audience"},
      {"Expired", w.tokens.expiring, "file://data/ok.txt", "read", 401, "expired"},
  };
  for (const Refusal& r : refusals) {
    SCOPED_TRACE(r.name);
    HttpReply reply = check(r.token, r.resource, r.action);
    EXPECT_EQ(reply.status, r.status) << reply.raw;
    json body = json::parse(reply.body, nullptr, false);
    EXPECT_EQ(body["allowed"], false);
    EXPECT_EQ(body["reason"], r.reason);
    EXPECT_FALSE(reply.headers.count("x-taskcred-task-id")) << "identity headers on a refusal";
    if (r.status == 401 && r.token) {
      EXPECT_EQ(reply.headers["www-authenticate"],
                "Bearer realm=\"taskcred\", error=\"invalid_token\", error_description=\"" + r.reason + "\"");
    }
  }
  HttpReply health = HttpRequest(port, "GET", "/healthz", {});
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(HttpRequest(port, "GET", "/other", {}).status, 404);
  ExpectNoCredentialIn("taskcred-authz stderr", w.sidecar->process().StderrText());
}

}  // namespace
}  // namespace taskcred::test
