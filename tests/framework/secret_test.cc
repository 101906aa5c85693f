// Secret types: issuing stamps secret_type; renew/revoke dispatch on it.
#include "framework/secret.h"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/backend.h"
#include "framework/response.h"
#include "test_util.h"

namespace taskcred::framework {
namespace {

using common::ErrorKind;
using logical::Operation;
using nlohmann::json;

class SecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BackendSpec spec;
    spec.secrets = {
        {.type = "creds",
         .fields = {{.name = "username", .type = FieldType::kString}},
         .default_duration = std::chrono::hours(1),
         .renew = [this](logical::Request& req, const FieldData& d) -> HandlerResult {
           renewed_user_ = *d.GetString("username");
           logical::Response resp;
           resp.secret = logical::Secret{};
           resp.secret->lease_options.ttl = std::chrono::minutes(30);
           resp.secret->lease_options.increment = req.secret->lease_options.increment;
           return std::optional<logical::Response>(resp);
         },
         .revoke = [this](logical::Request& req, const FieldData&) -> HandlerResult {
           revoked_.push_back(req.secret->internal_data.value("username", ""));
           return NoResponse();
         }},
        {.type = "static", .revoke = [](logical::Request&, const FieldData&) { return NoResponse(); }},
        {.type = "norevoke"},
    };
    auto b = Backend::Create(std::move(spec));
    ASSERT_TRUE(b.ok()) << b.status().message();
    backend_ = std::move(*b);
  }

  logical::Request LeaseRequest(Operation op, json internal) {
    logical::Request req = env_.Make(op, "creds/r1", {{"username", "u1"}, {"password", "p"}});
    req.secret = logical::Secret{};
    req.secret->internal_data = std::move(internal);
    req.secret->lease_options.issue_time = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
    return req;
  }

  test::RequestEnv env_;
  std::unique_ptr<Backend> backend_;
  std::string renewed_user_;
  std::vector<std::string> revoked_;
};

TEST_F(SecretTest, MakeSecretResponseStampsTheType) {
  const SecretType* creds = backend_->Secret("creds");
  ASSERT_NE(creds, nullptr);
  logical::Response resp = MakeSecretResponse(*creds, {{"username", "u1"}}, {{"username", "u1"}});
  ASSERT_TRUE(resp.secret.has_value());
  EXPECT_EQ(resp.secret->internal_data["secret_type"], "creds");
  EXPECT_EQ(resp.secret->internal_data["username"], "u1");
  EXPECT_EQ(resp.secret->lease_options.ttl, std::chrono::hours(1));
  EXPECT_TRUE(resp.secret->lease_options.renewable);
  EXPECT_NE(resp.secret->lease_options.issue_time, std::chrono::system_clock::time_point{});
  EXPECT_EQ(resp.data["username"], "u1");

  logical::LeaseOptions lease;
  lease.ttl = std::chrono::minutes(5);
  resp = MakeSecretResponse(*backend_->Secret("static"), nullptr, json::array({1}), lease);
  EXPECT_EQ(resp.secret->lease_options.ttl, std::chrono::minutes(5));
  EXPECT_FALSE(resp.secret->lease_options.renewable);
  EXPECT_EQ(resp.secret->internal_data, json({{"secret_type", "static"}}));
  EXPECT_TRUE(resp.data.is_object());
}

TEST_F(SecretTest, RenewEchoesInternalDataAndData) {
  logical::Request req = LeaseRequest(Operation::kRenew, {{"secret_type", "creds"}, {"username", "u1"}});
  logical::HandlerResult r = backend_->HandleRequest(req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(renewed_user_, "u1");
  const logical::Response& resp = **r;
  ASSERT_TRUE(resp.secret.has_value());
  EXPECT_EQ(resp.secret->internal_data, json({{"secret_type", "creds"}, {"username", "u1"}}));
  EXPECT_EQ(resp.secret->lease_options.issue_time, req.secret->lease_options.issue_time);
  EXPECT_EQ(resp.secret->lease_options.ttl, std::chrono::minutes(30));
  EXPECT_EQ(resp.data["username"], "u1");
  EXPECT_EQ(resp.data["password"], "p");
}

TEST_F(SecretTest, RevokeDispatches) {
  logical::Request req = LeaseRequest(Operation::kRevoke, {{"secret_type", "creds"}, {"username", "u9"}});
  logical::HandlerResult r = backend_->HandleRequest(req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(revoked_, std::vector<std::string>{"u9"});
}

TEST_F(SecretTest, DispatchErrors) {
  struct Case {
    std::string name;
    Operation op;
    std::optional<json> internal;  // nullopt: request without a secret
    ErrorKind kind;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"missing type", Operation::kRevoke, json{{"username", "u"}}, ErrorKind::kInvalidArgument,
       "secret is unsupported by this backend"},
      {"non-string type", Operation::kRenew, json{{"secret_type", 5}}, ErrorKind::kInvalidArgument,
       "secret is unsupported by this backend"},
      {"unknown type", Operation::kRenew, json{{"secret_type", "other"}}, ErrorKind::kInvalidArgument,
       "secret is unsupported by this backend"},
      {"null internal data", Operation::kRevoke, json(nullptr), ErrorKind::kInvalidArgument,
       "secret is unsupported by this backend"},
      {"no secret", Operation::kRevoke, std::nullopt, ErrorKind::kInvalidArgument, "request has no secret"},
      {"not renewable", Operation::kRenew, json{{"secret_type", "static"}}, ErrorKind::kUnsupportedOperation,
       ""},
      {"no revoke handler", Operation::kRevoke, json{{"secret_type", "norevoke"}},
       ErrorKind::kUnsupportedOperation, ""},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    logical::Request req = LeaseRequest(tc.op, tc.internal.value_or(json::object()));
    if (!tc.internal) req.secret.reset();
    logical::HandlerResult r = backend_->HandleRequest(req);
    ASSERT_FALSE(r.ok());
    EXPECT_KIND(r.status(), tc.kind);
    if (!tc.message.empty()) {
      EXPECT_EQ(r.status().message(), tc.message);
    }
  }
  EXPECT_TRUE(revoked_.empty());
}

}  // namespace
}  // namespace taskcred::framework
