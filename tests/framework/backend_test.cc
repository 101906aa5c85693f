// framework::Backend: declaration checks, routing, field handling, existence
// checks, warnings and exception containment.
#include "framework/backend.h"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/response.h"
#include "test_util.h"

namespace taskcred::framework {
namespace {

using common::ErrorKind;
using logical::Operation;
using nlohmann::json;

// A handler that echoes the operation and the fields it was given.
HandlerResult Echo(logical::Request& req, const FieldData& d) {
  json out = {{"op", std::string(logical::OperationName(req.operation))}};
  for (const FieldSchema& f : d.schema()) {
    if (d.Has(f.name)) out[f.name] = *d.GetJson(f.name);
  }
  return RespondWith(out);
}

class LogCapture : public common::LogSink {
 public:
  void Write(std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

BackendSpec TestSpec(std::shared_ptr<LogCapture> sink = nullptr) {
  BackendSpec spec;
  spec.help = "A test backend.";
  if (sink) spec.logger = common::Logger("test", common::LogLevel::kInfo, sink);
  spec.paths = {
      {.pattern = "roles/?",
       .fields = {{.name = "after", .type = FieldType::kString, .query = true}},
       .operations = {{Operation::kList, Echo}},
       .help = {"List roles."}},
      {.pattern = "roles/" + GenericNameRegex("name"),
       .fields = {{.name = "name", .type = FieldType::kNameString, .required = true},
                  {.name = "ttl", .type = FieldType::kDurationSecond},
                  {.name = "mode", .type = FieldType::kString, .allowed_values = {"a", "b"}}},
       .existence_check = [](logical::Request& req, const FieldData& d) -> common::Result<bool> {
         TC_ASSIGN_OR_RETURN(std::string name, d.GetString("name"));
         TC_ASSIGN_OR_RETURN(std::optional<logical::StorageEntry> e, req.storage->Get("role/" + name));
         return e.has_value();
       },
       .operations = {{Operation::kRead, Echo},
                      {Operation::kCreate, Echo},
                      {Operation::kUpdate, {Echo, "Write a role."}},
                      {Operation::kDelete, [](logical::Request&, const FieldData&) { return NoResponse(); }}},
       .help = {"Manage a role.", "Roles hold settings."}},
      {.pattern = "files" + OptionalParamRegex("file"),
       .fields = {{.name = "file", .type = FieldType::kString}},
       .operations = {{Operation::kRead, Echo}}},
      {.pattern = "throw",
       .operations = {{Operation::kRead,
                       [](logical::Request&, const FieldData&) -> HandlerResult {
                         throw std::runtime_error("secret-value-must-not-be-logged");
                       }},
                      {Operation::kUpdate,
                       [](logical::Request&, const FieldData& d) -> HandlerResult {
                         // A handler misusing FieldData: reads an undeclared field unchecked.
                         return RespondWith({{"x", *d.GetString("undeclared")}});
                       }}}},
      {.pattern = "raw", .operations = {{Operation::kUpdate, Echo}}, .takes_arbitrary_input = true},
  };
  return spec;
}

class BackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<LogCapture>();
    auto b = Backend::Create(TestSpec(sink_));
    ASSERT_TRUE(b.ok()) << b.status().message();
    backend_ = std::move(*b);
  }

  logical::HandlerResult Do(Operation op, const std::string& path, json data = json::object()) {
    logical::Request req = env_.Make(op, path, std::move(data));
    return backend_->HandleRequest(req);
  }

  test::RequestEnv env_;
  std::shared_ptr<LogCapture> sink_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(BackendTest, RoutesAndCaptures) {
  struct Case {
    Operation op;
    std::string path;
    std::optional<ErrorKind> error;
    json want;  // subset of response data
  };
  const std::vector<Case> cases = {
      {Operation::kList, "roles/", std::nullopt, {{"op", "list"}}},
      {Operation::kList, "roles", std::nullopt, {{"op", "list"}}},
      {Operation::kRead, "roles/r1", std::nullopt, {{"op", "read"}, {"name", "r1"}}},
      {Operation::kRead, "roles/a.b-c_d", std::nullopt, {{"name", "a.b-c_d"}}},
      {Operation::kRead, "roles/bad-", ErrorKind::kUnsupportedPath, {}},
      {Operation::kRead, "roles/a/b", ErrorKind::kUnsupportedPath, {}},
      {Operation::kRead, "nothing", ErrorKind::kUnsupportedPath, {}},
      {Operation::kRead, "xroles/r1", ErrorKind::kUnsupportedPath, {}},
      {Operation::kPatch, "roles/r1", ErrorKind::kUnsupportedOperation, {}},
      {Operation::kList, "roles/r1", ErrorKind::kUnsupportedOperation, {}},
      {Operation::kRead, "files", std::nullopt, {{"file", ""}}},
      {Operation::kRead, "files/a/b.txt", std::nullopt, {{"file", "a/b.txt"}}},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(std::string(logical::OperationName(tc.op)) + " " + tc.path);
    logical::HandlerResult r = Do(tc.op, tc.path);
    if (tc.error) {
      ASSERT_FALSE(r.ok());
      EXPECT_KIND(r.status(), *tc.error);
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_TRUE(r->has_value());
    for (const auto& [k, v] : tc.want.items()) EXPECT_EQ((*r)->data[k], v) << k;
  }
}

TEST_F(BackendTest, RouteLookup) {
  ASSERT_NE(backend_->Route("roles/x"), nullptr);
  EXPECT_EQ(backend_->Route("roles/x")->help.synopsis, "Manage a role.");
  EXPECT_EQ(backend_->Route("nope"), nullptr);
}

TEST_F(BackendTest, FieldValidationIs400NamingTheField) {
  logical::HandlerResult r = Do(Operation::kUpdate, "roles/r1", {{"ttl", "abc"}});
  ASSERT_FALSE(r.ok());
  EXPECT_KIND(r.status(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "Field validation failed: field \"ttl\": expected a duration (\"90\", \"15m\", \"1h30m\"), got "
            "\"abc\"");

  r = Do(Operation::kUpdate, "roles/r1", {{"mode", "c"}});
  EXPECT_KIND(r.status(), ErrorKind::kInvalidArgument);

  for (json hostile : {json{{"ttl", json{{"nested", {{"deep", 1}}}}}}, json{{"ttl", json{"1h", "2h"}}},
                       json{{"ttl", 1e300}}, json{{"mode", std::string("\xc3\x28", 2)}}}) {
    SCOPED_TRACE(hostile.dump(-1, ' ', false, json::error_handler_t::replace));
    r = Do(Operation::kUpdate, "roles/r1", hostile);
    ASSERT_FALSE(r.ok());
    EXPECT_KIND(r.status(), ErrorKind::kInvalidArgument);
  }
}

TEST_F(BackendTest, CapturesWinOverBodyWithWarning) {
  logical::HandlerResult r = Do(Operation::kUpdate, "roles/r1", {{"name", "other"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)->data["name"], "r1");
  ASSERT_EQ((*r)->warnings.size(), 1u);
  EXPECT_NE((*r)->warnings[0].find("captured from the endpoint's path: [name]"), std::string::npos);
}

TEST_F(BackendTest, UnknownFieldsWarn) {
  logical::HandlerResult r = Do(Operation::kUpdate, "roles/r1", {{"zeta", 1}, {"alpha", "x"}, {"ttl", 5}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ((*r)->warnings.size(), 1u);
  EXPECT_EQ((*r)->warnings[0], "Endpoint ignored these unrecognized parameters: [alpha zeta]");

  // Hostile key names are reported without their invalid bytes.
  r = Do(Operation::kUpdate, "roles/r1", {{std::string("k\xff", 2), 1}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ((*r)->warnings.size(), 1u);
  EXPECT_EQ((*r)->warnings[0], "Endpoint ignored these unrecognized parameters: [k?]");

  r = Do(Operation::kUpdate, "raw", {{"anything", 1}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)->warnings.empty());
}

TEST_F(BackendTest, RequiredFieldsOnWrite) {
  // "name" is required and always captured, so a write with only body fields passes.
  EXPECT_TRUE(Do(Operation::kUpdate, "roles/r1", json::object()).ok());
  BackendSpec spec;
  spec.paths = {{.pattern = "cfg",
                 .fields = {{.name = "url", .type = FieldType::kString, .required = true}},
                 .operations = {{Operation::kUpdate, Echo}, {Operation::kRead, Echo}}}};
  auto b = Backend::Create(std::move(spec));
  ASSERT_TRUE(b.ok());
  logical::Request write = env_.Make(Operation::kUpdate, "cfg");
  logical::HandlerResult r = (*b)->HandleRequest(write);
  EXPECT_KIND(r.status(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "Field validation failed: missing required field \"url\"");
  logical::Request read = env_.Make(Operation::kRead, "cfg");
  EXPECT_TRUE((*b)->HandleRequest(read).ok());
}

TEST_F(BackendTest, ExistenceCheck) {
  logical::Request req = env_.Make(Operation::kCreate, "roles/r1");
  auto r = backend_->HandleExistenceCheck(req);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->check_found);
  EXPECT_FALSE(r->exists);

  ASSERT_TRUE(env_.storage.Put({.key = "role/r1", .value = "{}"}).ok());
  req = env_.Make(Operation::kUpdate, "roles/r1");
  r = backend_->HandleExistenceCheck(req);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->check_found);
  EXPECT_TRUE(r->exists);

  req = env_.Make(Operation::kUpdate, "raw");
  r = backend_->HandleExistenceCheck(req);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->check_found);

  req = env_.Make(Operation::kUpdate, "nowhere");
  EXPECT_KIND(backend_->HandleExistenceCheck(req).status(), ErrorKind::kUnsupportedPath);

  req = env_.Make(Operation::kRead, "roles/r1");
  EXPECT_KIND(backend_->HandleExistenceCheck(req).status(), ErrorKind::kInternal);

  req = env_.Make(Operation::kCreate, "roles/r1", {{"ttl", "junk"}});
  EXPECT_KIND(backend_->HandleExistenceCheck(req).status(), ErrorKind::kInvalidArgument);
}

TEST_F(BackendTest, FieldsMoveIntoTheHandlerUnlessThePathTakesArbitraryInput) {
  // No copy of the body: a declared-field path takes request.data (the
  // handler sees it through FieldData), an arbitrary-input path leaves it.
  const json body = {{"ttl", 60}, {"blob", std::string(4096, 'b')}};
  logical::Request req = env_.Make(Operation::kUpdate, "roles/r1", body);
  auto check = backend_->HandleExistenceCheck(req);
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(req.data, json::object());
  req = env_.Make(Operation::kUpdate, "roles/r1", body);
  auto r = backend_->HandleRequest(req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(req.data, json::object());
  EXPECT_EQ((*r)->data["ttl"], 60) << "the handler saw the fields";

  req = env_.Make(Operation::kUpdate, "raw", body);
  r = backend_->HandleRequest(req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(req.data, body) << "an arbitrary-input handler may read request.data";
}

TEST_F(BackendTest, CreateAndUpdateDispatchToTheirHandlers) {
  // The host turns a write into create when the check says "absent"; the path must declare create.
  logical::HandlerResult r = Do(Operation::kCreate, "roles/r1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->data["op"], "create");
  r = Do(Operation::kUpdate, "roles/r1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->data["op"], "update");
  // A path without create answers 405 to create, as the Go framework does.
  EXPECT_KIND(Do(Operation::kCreate, "raw").status(), ErrorKind::kUnsupportedOperation);
}

TEST_F(BackendTest, NilResponseHasNoWarnings) {
  logical::HandlerResult r = Do(Operation::kDelete, "roles/r1", {{"junk", 1}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST_F(BackendTest, ExceptionBecomesInternalWithLoggedId) {
  logical::HandlerResult r = Do(Operation::kRead, "throw");
  ASSERT_FALSE(r.ok());
  EXPECT_KIND(r.status(), ErrorKind::kInternal);
  const std::string prefix = "internal error, id ";
  ASSERT_EQ(r.status().message().rfind(prefix, 0), 0u) << r.status().message();
  std::string id = r.status().message().substr(prefix.size());
  EXPECT_EQ(id.size(), 36u);
  ASSERT_EQ(sink_->lines.size(), 1u);
  EXPECT_NE(sink_->lines[0].find(id), std::string::npos);
  EXPECT_EQ(sink_->lines[0].find("secret-value-must-not-be-logged"), std::string::npos);

  // A handler that dereferences a failed Result also ends as a 500, not a crash.
  r = Do(Operation::kUpdate, "throw");
  EXPECT_KIND(r.status(), ErrorKind::kInternal);
}

TEST(BackendCreateTest, RejectsBadDeclarations) {
  auto handler = [](logical::Request&, const FieldData&) { return NoResponse(); };
  struct Case {
    std::string name;
    std::vector<Path> paths;
    std::vector<SecretType> secrets;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"blank pattern", {{.pattern = ""}}, {}, "blank"},
      {"bad regex", {{.pattern = "roles/(?P<name>"}}, {}, "invalid routing pattern"},
      {"undeclared capture", {{.pattern = "roles/" + GenericNameRegex("name")}}, {}, "capture \"name\""},
      {"duplicate field", {{.pattern = "a", .fields = {{.name = "x"}, {.name = "x"}}}}, {}, "declared twice"},
      {"bad default",
       {{.pattern = "a",
         .fields = {{.name = "t", .type = FieldType::kDurationSecond, .default_value = "zz"}}}},
       {},
       "bad default"},
      {"bad allowed value",
       {{.pattern = "a", .fields = {{.name = "n", .type = FieldType::kInt, .allowed_values = {"x"}}}}},
       {},
       "bad allowed value"},
      {"empty handler",
       {{.pattern = "a", .operations = {{Operation::kRead, OperationHandler()}}}},
       {},
       "no handler"},
      {"framework operation",
       {{.pattern = "a", .operations = {{Operation::kRenew, handler}}}},
       {},
       "framework"},
      {"bad response status",
       {{.pattern = "a",
         .operations = {{Operation::kRead,
                         [&] {
                           OperationHandler h(handler);
                           h.responses = {{.status = 42}};
                           return h;
                         }()}}}},
       {},
       "not an HTTP status"},
      {"duplicate secret", {}, {{.type = "creds"}, {.type = "creds"}}, "declared twice"},
      {"unnamed secret", {}, {{.type = ""}}, "empty name"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    BackendSpec spec;
    spec.paths = tc.paths;
    spec.secrets = tc.secrets;
    auto b = Backend::Create(std::move(spec));
    ASSERT_FALSE(b.ok());
    EXPECT_KIND(b.status(), ErrorKind::kInvalidArgument);
    EXPECT_NE(b.status().message().find(tc.error), std::string::npos) << b.status().message();
  }
}

TEST(BackendCreateTest, HooksAreForwarded) {
  std::vector<std::string> invalidated;
  int cleaned = 0;
  int initialized = 0;
  BackendSpec spec;
  spec.special_paths.unauthenticated = {"login"};
  spec.invalidate = [&](std::string_view key) { invalidated.emplace_back(key); };
  spec.clean = [&] { ++cleaned; };
  spec.initialize = [&](logical::Storage&, logical::SystemView&) {
    ++initialized;
    return common::Status::Ok();
  };
  auto b = Backend::Create(std::move(spec));
  ASSERT_TRUE(b.ok());
  test::RequestEnv env;
  EXPECT_TRUE((*b)->Initialize(env.storage, env.system_view).ok());
  (*b)->InvalidateKey("config");
  (*b)->Cleanup();
  EXPECT_EQ(initialized, 1);
  EXPECT_EQ(invalidated, std::vector<std::string>{"config"});
  EXPECT_EQ(cleaned, 1);
  EXPECT_EQ((*b)->SpecialPaths().unauthenticated, std::vector<std::string>{"login"});
  EXPECT_EQ((*b)->Type(), logical::BackendType::kLogical);
}

}  // namespace
}  // namespace taskcred::framework
