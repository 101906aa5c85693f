#include "runtime/translate.h"

#include <gtest/gtest.h>

namespace taskcred::runtime {
namespace {

using common::ErrorKind;
using common::Status;
namespace tl = taskcred::logical;

TEST(TranslateTest, RequestRoundTrip) {
  tl::Request in;
  in.id = "req-1";
  in.operation = tl::Operation::kRenew;
  in.path = "creds/r1";
  in.data = {{"a", 1}, {"b", "x"}};
  tl::Secret s;
  s.lease_options.ttl = std::chrono::seconds(3600);
  s.lease_options.max_ttl = std::chrono::seconds(7200);
  s.lease_options.increment = std::chrono::seconds(60);
  s.lease_options.renewable = true;
  s.lease_options.issue_time = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  s.internal_data = {{"secret_type", "creds"}};
  s.lease_id = "mount/creds/r1/abc";
  in.secret = s;
  in.headers = {{"X-Test", {"1", "2"}}};
  in.entity_id = "ent";
  in.mount_point = "m/";
  in.connection = tl::Connection{"10.0.0.1", 443};

  ::pb::Request wire;
  ToProto(in, &wire);
  EXPECT_EQ(wire.operation(), "renew");
  EXPECT_EQ(wire.secret().lease_options().ttl(), 3600LL * 1000000000LL);  // nanoseconds
  EXPECT_EQ(wire.secret().lease_options().increment(), 60LL * 1000000000LL);
  auto out = FromProto(wire);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->id, in.id);
  EXPECT_EQ(out->operation, in.operation);
  EXPECT_EQ(out->path, in.path);
  EXPECT_EQ(out->data, in.data);
  ASSERT_TRUE(out->secret.has_value());
  EXPECT_EQ(out->secret->lease_options.ttl, in.secret->lease_options.ttl);
  EXPECT_EQ(out->secret->lease_options.max_ttl, in.secret->lease_options.max_ttl);
  EXPECT_EQ(out->secret->lease_options.issue_time, in.secret->lease_options.issue_time);
  EXPECT_EQ(out->secret->internal_data, in.secret->internal_data);
  EXPECT_EQ(out->secret->lease_id, in.secret->lease_id);
  EXPECT_EQ(out->headers, in.headers);
  EXPECT_EQ(out->entity_id, "ent");
  ASSERT_TRUE(out->connection.has_value());
  EXPECT_EQ(out->connection->remote_port, 443);
}

TEST(TranslateTest, RequestDataRules) {
  struct Case {
    std::string data;
    bool ok;
    nlohmann::json want;
  };
  const std::vector<Case> cases = {
      {"", true, nlohmann::json::object()},
      {"null", true, nlohmann::json::object()},
      {R"({"k":"v"})", true, {{"k", "v"}}},
      {"[1]", false, {}},
      {"{bad", false, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.data);
    ::pb::Request wire;
    wire.set_operation("read");
    wire.set_data(c.data);
    auto r = FromProto(wire);
    EXPECT_EQ(r.ok(), c.ok);
    if (r.ok()) {
      EXPECT_EQ(r->data, c.want);
    } else {
      EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidArgument);
    }
  }
  ::pb::Request unknown;
  unknown.set_operation("teleport");
  EXPECT_EQ(FromProto(unknown).status().kind(), ErrorKind::kUnsupportedOperation);
}

// A body that cannot be decoded says which top-level field and why, without
// echoing the input (it may hold a token).
TEST(TranslateTest, UndecodableDataNamesTheFieldAndTheRule) {
  struct Case {
    std::string data;
    std::vector<std::string> want;  // substrings of the message
    std::string absent;             // must not appear (echoed input)
  };
  auto deep = [](const std::string& key, int levels) {
    return R"({"ttl":60,")" + key + R"(":)" + std::string(levels, '[') + std::string(levels, ']') + "}";
  };
  const std::vector<Case> cases = {
      {R"({"max_uses": 1e999})", {"max_uses: number 1e999 is out of range"}, ""},
      {R"({"ttl": 5, "max_uses": -1e999})", {"max_uses: number -1e999 is out of range"}, ""},
      {"[1e999]", {"request data: number 1e999 is out of range"}, ""},
      {deep("grants", 600), {"grants: nested more than 512 levels deep"}, ""},
      {std::string(600, '['), {"request data is nested more than 512 levels deep"}, ""},
      {R"({"a":"[[[[", "grants": )" + std::string(513, '{'), {"grants: nested more than 512"}, ""},
      {R"({"token": "s3cr3t-value", "x": tru})", {"request data is not valid JSON", "syntax error",
                                                   "field \"x\""}, "s3cr3t"},
      {R"({"token": "s3cr3t-value")", {"request data is not valid JSON"}, "s3cr3t"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.data.substr(0, 80));
    ::pb::Request wire;
    wire.set_operation("update");
    wire.set_data(c.data);
    auto r = FromProto(wire);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidArgument);
    for (const auto& w : c.want) {
      EXPECT_NE(r.status().message().find(w), std::string::npos) << r.status().message();
    }
    if (!c.absent.empty()) {
      EXPECT_EQ(r.status().message().find(c.absent), std::string::npos) << r.status().message();
    }
    // The existence check only needs the path: the data becomes {}.
    auto lenient = FromProto(wire, DataDecoding::kLenient);
    ASSERT_TRUE(lenient.ok()) << lenient.status().ToString();
    EXPECT_EQ(lenient->data, nlohmann::json::object());
  }
}

TEST(TranslateTest, ResponseNeverEmptyJsonAndAlwaysIssueTime) {
  tl::Response r;
  r.data = nullptr;
  tl::Secret s;
  s.internal_data = nullptr;
  s.lease_options.ttl = std::chrono::seconds(5);  // issue_time left unset
  r.secret = s;
  ::pb::Response wire;
  ASSERT_TRUE(ToProto(r, &wire).ok());
  EXPECT_EQ(wire.data(), "null");
  EXPECT_EQ(wire.secret().internal_data(), "{}");
  ASSERT_TRUE(wire.secret().lease_options().has_issue_time());
  EXPECT_GT(wire.secret().lease_options().issue_time().seconds(), 1600000000);
  EXPECT_EQ(wire.secret().lease_options().ttl(), 5000000000LL);

  tl::Response obj;
  ::pb::Response wire2;
  ASSERT_TRUE(ToProto(obj, &wire2).ok());
  EXPECT_EQ(wire2.data(), "{}");

  tl::Response bad;
  bad.data = nlohmann::json::array();
  ::pb::Response wire3;
  EXPECT_EQ(ToProto(bad, &wire3).kind(), ErrorKind::kInternal);
}

TEST(TranslateTest, ResponseRoundTrip) {
  tl::Response r;
  r.data = {{"username", "u1"}, {"n", 3}};
  r.warnings = {"careful"};
  r.redirect = "https://x";
  tl::Secret s;
  s.internal_data = {{"secret_type", "creds"}};
  s.lease_options.renewable = true;
  r.secret = s;
  ::pb::Response wire;
  ASSERT_TRUE(ToProto(r, &wire).ok());
  auto back = FromProto(wire);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->data, r.data);
  EXPECT_EQ(back->warnings, r.warnings);
  EXPECT_EQ(back->redirect, r.redirect);
  ASSERT_TRUE(back->secret.has_value());
  EXPECT_EQ(back->secret->internal_data, s.internal_data);
  EXPECT_TRUE(back->secret->lease_options.renewable);
}

TEST(TranslateTest, Utf8IsSanitized) {
  EXPECT_EQ(SanitizeUtf8("ok é"), "ok é");
  EXPECT_EQ(SanitizeUtf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(SanitizeUtf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated
  tl::Response r;
  r.data = {{"k", std::string("bad\xff")}};
  r.warnings = {std::string("w\xfe")};
  ::pb::Response wire;
  ASSERT_TRUE(ToProto(r, &wire).ok());
  EXPECT_EQ(SanitizeUtf8(wire.data()), wire.data());
  EXPECT_EQ(wire.warnings(0), "w\xEF\xBF\xBD");
}

TEST(TranslateTest, PathsAndIdentity) {
  tl::Paths p;
  p.root = {"root/*"};
  p.unauthenticated = {"pub"};
  p.local_storage = {"local/"};
  p.seal_wrap_storage = {"sw/"};
  p.write_forwarded_storage = {"wf/"};
  ::pb::Paths wire;
  ToProto(p, &wire);
  EXPECT_EQ(wire.root(0), "root/*");
  EXPECT_EQ(wire.unauthenticated(0), "pub");
  EXPECT_EQ(wire.local_storage(0), "local/");
  EXPECT_EQ(wire.seal_wrap_storage(0), "sw/");
  EXPECT_EQ(wire.write_forwarded_storage(0), "wf/");

  ::logical::Entity e;
  e.set_id("id1");
  e.set_name("alice");
  (*e.mutable_metadata())["team"] = "a";
  auto* a = e.add_aliases();
  a->set_name("alice@x");
  a->set_mount_accessor("acc");
  auto got = FromProto(e);
  EXPECT_EQ(got.id, "id1");
  EXPECT_EQ(got.metadata.at("team"), "a");
  ASSERT_EQ(got.aliases.size(), 1u);
  EXPECT_EQ(got.aliases[0].mount_accessor, "acc");
}

struct CodecCase {
  Status status;
  bool want_proto;
  uint32_t want_type;
  bool want_data_error;
  uint32_t want_existence_type;
};

TEST(ErrorCodecTest, EveryErrorKind) {
  const std::vector<CodecCase> cases = {
      {Status::InvalidArgument("bad ttl"), false, 0, true, 1},
      {Status::PermissionDenied("nope"), true, 8, true, 8},
      {Status::UnsupportedOperation("op"), true, 5, true, 5},
      {Status::UnsupportedPath("path"), true, 6, true, 6},
      {Status::InvalidRequest("req"), true, 7, true, 7},
      {Status::Coded(409, "conflict"), true, 3, false, 3},
      {Status::Unrecoverable("gone"), true, 10, false, 10},
      {Status::Internal("boom"), true, 2, false, 2},
      {Status::Unavailable("down"), true, 2, false, 2},
      {Status::DeadlineExceeded("late"), true, 2, false, 2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status.ToString());
    EncodedError e = EncodeRequestError(c.status);
    EXPECT_EQ(e.proto_error.has_value(), c.want_proto);
    if (e.proto_error) {
      EXPECT_EQ(e.proto_error->err_type(), c.want_type);
      EXPECT_LE(e.proto_error->err_type(), 10u);
      EXPECT_EQ(e.proto_error->err_msg(), c.status.message());
    }
    EXPECT_EQ(e.response_error.has_value(), c.want_data_error);
    if (e.response_error) {
      EXPECT_EQ(*e.response_error, c.status.message());
    }
    ::pb::ProtoError pe = EncodeProtoError(c.status);
    EXPECT_EQ(pe.err_type(), c.want_existence_type);

    ::pb::HandleRequestReply reply;
    EncodeHandlerResult(tl::HandlerResult(c.status), &reply);
    EXPECT_EQ(reply.has_err(), c.want_proto);
    if (c.want_data_error) {
      auto data = nlohmann::json::parse(reply.response().data());
      EXPECT_TRUE(data["error"].is_string());
      EXPECT_EQ(data["error"], c.status.message());
    } else {
      EXPECT_FALSE(reply.has_response());
    }
  }
  EXPECT_EQ(EncodeProtoError(Status::Coded(409, "x")).err_code(), 409);
  EXPECT_EQ(EncodeProtoError(Status::Coded(7, "x")).err_code(), 500);
}

TEST(ErrorCodecTest, SuccessResults) {
  ::pb::HandleRequestReply none;
  EncodeHandlerResult(tl::HandlerResult(std::optional<tl::Response>()), &none);
  EXPECT_FALSE(none.has_response());
  EXPECT_FALSE(none.has_err());

  tl::Response r;
  r.data = {{"x", 1}};
  ::pb::HandleRequestReply some;
  EncodeHandlerResult(tl::HandlerResult(std::optional<tl::Response>(r)), &some);
  EXPECT_EQ(some.response().data(), R"({"x":1})");
  EXPECT_FALSE(some.has_err());
}

}  // namespace
}  // namespace taskcred::runtime
