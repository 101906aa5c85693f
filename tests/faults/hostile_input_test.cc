// Oversized and deeply nested request JSON: a 400 naming the field (or, for
// a token, the documented inactive answer), never a crash or a 500; the
// message does not echo the payload, nothing is written and the plugin
// keeps serving.
#include "crypto/encoding.h"
#include "crypto/jwt.h"
#include "fault_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

constexpr size_t kHuge = 8u << 20;  // 8 MiB

json DeepArray(int depth) {
  json v = "read kv://a/b";
  for (int i = 0; i < depth; ++i) v = json::array({std::move(v)});
  return v;
}

json DeepObject(int depth) {
  json v = "^a$";
  for (int i = 0; i < depth; ++i) v = json{{"p", std::move(v)}};
  return v;
}

json RoleWith(const std::string& field, json value) {
  json role = JwtRole();
  role[field] = std::move(value);
  return role;
}

// HandleRequest with `data_text` as the raw Request.data (not necessarily
// valid JSON), on `m`'s backend instance.
RequestResult RawRequest(PluginHost& host, Mount& m, const std::string& op, const std::string& path,
                         const std::string& data_text) {
  ::pb::HandleRequestArgs args;
  ::pb::Request* req = args.mutable_request();
  req->set_id("raw-request");
  req->set_operation(op);
  req->set_path(path);
  req->set_data(data_text);
  req->set_client_token("harness-salted-token");
  req->set_client_token_accessor("harness-accessor");
  req->set_mount_point("taskcred/");
  req->set_mount_type("taskcred");
  req->set_mount_accessor("taskcred_harness");
  req->mutable_connection()->set_remote_addr("127.0.0.1");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  ctx.AddMetadata("multiplex_id", m.multiplex_id());
  RequestResult out;
  auto stub = ::pb::Backend::NewStub(host.channel());
  out.status = stub->HandleRequest(&ctx, args, &out.reply);
  if (!out.status.ok()) {
    out.http_status = 500;
    out.error = out.status.error_message();
    return out;
  }
  out.http_status = VaultHttpStatus(out.reply, op);
  if (out.reply.has_response()) out.data = json::parse(out.reply.response().data(), nullptr, false);
  if (out.data.is_object() && out.data.contains("error") && out.data["error"].is_string()) {
    out.error = out.data["error"].get<std::string>();
  } else if (out.reply.has_err()) {
    out.error = out.reply.err().err_msg();
  }
  return out;
}

class HostileInputTest : public FaultTest {
 protected:
  void SetUp() override {
    host_ = StartHost();
    m_ = SetupMount(host_);
    ASSERT_NE(m_, nullptr);
    // Vault's own body limit: the oversized values below must reach the
    // field rules (a mount's default 1 MiB refuses them whole with a 413,
    // tests/plugin/request_limit_test.cc).
    Ok(*m_, "update", "config", {{"max_request_bytes", 32 * 1024 * 1024}});
    Ok(*m_, "create", "roles/backup", JwtRole());
    Ok(*m_, "create", "roles/op", OpaqueRole());
  }

  // The answer was a clear 400 naming `field`, nothing was written and the
  // plugin still serves.
  // `or_rule`, when given, is accepted in place of the field name (a body
  // refused as a whole, e.g. "nested" for absurd depth).
  void ExpectRefused(const RequestResult& r, const StorageImage& before, const std::string& field,
                     const std::string& or_rule = "") {
    RecordCredential(r);
    EXPECT_TRUE(r.status.ok()) << "transport error: " << r.status.error_message();
    EXPECT_EQ(r.http_status, 400) << r.error.substr(0, 300);
    EXPECT_TRUE(r.error.find(field) != std::string::npos ||
                (!or_rule.empty() && r.error.find(or_rule) != std::string::npos))
        << "error does not name " << field << ": " << r.error.substr(0, 300);
    EXPECT_LT(r.error.size(), 2048u) << "the error echoes the payload";
    ExpectStillServing(before);
  }

  void ExpectStillServing(const StorageImage& before) {
    EXPECT_TRUE(Image() == before) << "a refused request changed storage";
    ASSERT_TRUE(host_->process().Running()) << "plugin died: " << host_->process().StderrText().substr(0, 2000);
    auto health = host_->HealthCheck();
    EXPECT_TRUE(health.ok() && health.reply == 1) << health.status.error_message();
    EXPECT_EQ(Ok(*m_, "read", "roles/backup").value("task", ""), "nightly-backup");
  }

  // Each raw Request.data body is a clear 400 on roles/raw; stops at a crash.
  void ExpectRawRefused(const std::vector<std::string>& bodies) {
    StorageImage before = Image();
    for (size_t i = 0; i < bodies.size(); ++i) {
      SCOPED_TRACE(i);
      RequestResult r = RawRequest(*host_, *m_, "create", "roles/raw", bodies[i]);
      EXPECT_TRUE(r.status.ok()) << r.status.error_message();
      EXPECT_EQ(r.http_status, 400) << r.error.substr(0, 300);
      EXPECT_FALSE(r.error.empty());
      EXPECT_LT(r.error.size(), 2048u);
      ExpectStillServing(before);
      if (!host_->process().Running()) return;
    }
  }

  PluginHost* host_ = nullptr;
  Mount* m_ = nullptr;
};

TEST_F(HostileInputTest, OversizedRoleFields) {
  struct Case {
    std::string field;
    json value;
  };
  const std::vector<Case> cases = {
      {"task", std::string(kHuge, 'a')},
      {"description", std::string(kHuge, 'd')},
      {"grants", json::array({"read kv://a/" + std::string(kHuge, 'g')})},
      {"audience", json::array({std::string(kHuge, 'u')})},
      {"parameters", json{{"snapshot_id", "^" + std::string(kHuge, 'x') + "$"}}},
      {"ttl", std::string(kHuge, '9') + "s"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    StorageImage before = Image();
    ExpectRefused(Call(*m_, "create", "roles/huge", RoleWith(c.field, c.value)), before, c.field);
  }
}

TEST_F(HostileInputTest, TooManyGrantsAndValues) {
  StorageImage before = Image();
  json grants = json::array();
  for (int i = 0; i < 100000; ++i) grants.push_back("read kv://a/b" + std::to_string(i));
  ExpectRefused(Call(*m_, "create", "roles/many", RoleWith("grants", grants)), before, "grants");

  json values = json::object();
  for (int i = 0; i < 100000; ++i) values["p" + std::to_string(i)] = "1";
  ExpectRefused(Call(*m_, "update", "creds/backup", values), before, "p");
}

// A role declaring 100,000 parameters (1.5 MB of role, 100,000 regexes to
// compile on every cold load, unusable since issuance needs every value) is
// refused like 100,000 grants are.
TEST_F(HostileInputTest, TooManyParametersIsRefused) {
  StorageImage before = Image();
  json params = json::object();
  for (int i = 0; i < 100000; ++i) params["p" + std::to_string(i)] = "^a$";
  json role = RoleWith("parameters", params);
  role["grants"] = "read kv://a/b";  // no placeholder: only the parameter count is wrong
  ExpectRefused(Call(*m_, "create", "roles/many", role), before, "parameters");
}

TEST_F(HostileInputTest, DeeplyNestedFields) {
  StorageImage before = Image();
  // The message names the field the depth is in (and the rule).
  ExpectRefused(Call(*m_, "create", "roles/deep", RoleWith("grants", DeepArray(10000))), before,
                "grants: nested more than 512 levels deep");
  ExpectRefused(Call(*m_, "create", "roles/deep", RoleWith("parameters", DeepObject(10000))), before,
                "parameters: nested");
  ExpectRefused(Call(*m_, "update", "creds/backup", {{"snapshot_id", DeepArray(10000)}}), before,
                "snapshot_id: nested");
  ExpectRefused(Call(*m_, "update", "config", {{"default_audience", DeepArray(10000)}}), before,
                "default_audience: nested");
}

TEST_F(HostileInputTest, OversizedParameterValuesAndConfig) {
  StorageImage before = Image();
  ExpectRefused(Call(*m_, "update", "creds/backup", {{"snapshot_id", std::string(kHuge, '1')}}), before,
                "snapshot_id");
  ExpectRefused(Call(*m_, "update", "config", {{"issuer", std::string(kHuge, 'i')}}), before, "issuer");
  ExpectRefused(Call(*m_, "update", "roles/backup/preview", {{"snapshot_id", std::string(kHuge, '2')}}), before,
                "snapshot_id");
}

// A huge or deeply nested token is simply not authentic: {"active": false}
// (docs/engine.md: every malformed token), or a 400 — never a 500.
TEST_F(HostileInputTest, HostileTokens) {
  StorageImage before = Image();
  // A JWT-shaped token within the 16 KiB token limit whose header and claims
  // are nested as deep as that allows.
  const std::string deep_jwt = crypto::Base64UrlEncode("{\"alg\":\"EdDSA\",\"kid\":" + std::string(3000, '[') +
                                                       std::string(3000, ']') + "}") +
                               "." + crypto::Base64UrlEncode(std::string(2000, '[') + std::string(2000, ']')) + ".AAAA";
  ASSERT_LE(deep_jwt.size(), crypto::kMaxJwtBytes) << "the deep JWT would be refused for its length alone";
  const std::vector<json> tokens = {std::string(kHuge, 't'), "tcop_" + std::string(kHuge, 'a'),
                                    std::string(kHuge / 2, 'e') + "." + std::string(kHuge / 2, 'f') + ".x",
                                    DeepArray(10000), deep_jwt};
  for (size_t i = 0; i < tokens.size(); ++i) {
    SCOPED_TRACE(i);
    RequestResult r = Call(*m_, "update", "introspect", {{"token", tokens[i]}});
    EXPECT_TRUE(r.http_status == 400 ? r.error.find("token") != std::string::npos ||
                                           r.error.find("nested") != std::string::npos
                                     : r.http_status == 200 && r.data == json({{"active", false}}))
        << r.http_status << " " << r.error.substr(0, 300);
    EXPECT_LT(r.error.size(), 2048u);
    RequestResult rel = Call(*m_, "update", "release", {{"token", tokens[i]}});
    EXPECT_TRUE(rel.http_status == 204 || rel.http_status == 400) << rel.http_status << " " << rel.error.substr(0, 300);
    ExpectStillServing(before);
  }
}

// Request.data nested a million levels deep (2 MB of '['), bare and inside a
// field: a 400, no crash.
TEST_F(HostileInputTest, RawMillionDeepData) {
  ExpectRawRefused({
      std::string(1000000, '[') + std::string(1000000, ']'),
      "{\"task\": " + std::string(1000000, '[') + "\"x\"" + std::string(1000000, ']') + "}",
      "{\"grants\": " + std::string(1000000, '[') + std::string(1000000, ']') + "}",
  });
}

// Raw Request.data whose problem is in one field: the 400 names it and the
// rule, and the existence check Vault sends first does not fail on it (Vault
// would log that as an internal error).
TEST_F(HostileInputTest, RawDataErrorsNameTheField) {
  StorageImage before = Image();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"task": "t", "grants": "read kv://a/b", "max_uses": 1e999})", "max_uses: number 1e999 is out of range"},
      {R"({"task": "t", "ttl": -1e400})", "ttl: number -1e400 is out of range"},
      {R"({"task": )" + std::string(600, '[') + std::string(600, ']') + "}", "task: nested more than 512 levels"},
      {R"({"task": "t", "grants": tru})", "not valid JSON"},
  };
  for (const auto& [body, want] : cases) {
    SCOPED_TRACE(want);
    RequestResult r = RawRequest(*host_, *m_, "create", "roles/raw", body);
    EXPECT_EQ(r.http_status, 400) << r.error.substr(0, 300);
    EXPECT_NE(r.error.find(want), std::string::npos) << r.error.substr(0, 300);
    RequestSpec spec;
    spec.operation = "update";
    spec.path = "roles/raw";
    spec.raw_data = body;
    auto check = m_->HandleExistenceCheck(spec);
    ASSERT_TRUE(check.status.ok()) << check.status.error_message();
    EXPECT_FALSE(check.reply.has_err()) << "the existence check failed: " << check.reply.err().err_msg();
    EXPECT_TRUE(check.reply.check_found());
    ExpectStillServing(before);
  }
}

// Request.data that is not what the host would send: truncated and non-JSON
// text, not an object. (Invalid UTF-8 cannot be sent: proto3 strings refuse it.)
TEST_F(HostileInputTest, RawMalformedData) {
  ExpectRawRefused({std::string(100000, '{'), "{\"task\": \"unterminated", "not json at all", "[1, 2, 3]"});
}

}  // namespace
}  // namespace taskcred::test
