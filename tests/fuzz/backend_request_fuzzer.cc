// Fuzz target (b): request routing and validation in framework::Backend.
// A small backend with a handful of paths (named captures, optional
// segments, arbitrary input, existence check, typed fields) receives a
// fuzzed operation, path and JSON data. Input format (text):
//   line 1: operation name ("read", "update", ... as logical::ParseOperation)
//   line 2: request path
//   rest:   JSON request data
// Every outcome must be an OK result or an error Status; never a crash, an
// escaped exception, or an OK result whose data is not an object.
#include <cstddef>
#include <cstdint>

#include "framework/backend.h"
#include "framework/field.h"
#include "framework/path.h"
#include "fuzz_util.h"
#include "logical/inmem_storage.h"
#include "logical/operation.h"
#include "logical/system_view.h"

namespace fw = taskcred::framework;
namespace lg = taskcred::logical;
namespace common = taskcred::common;
using nlohmann::json;

namespace {

class NullSystemView : public lg::SystemView {
 public:
  common::Result<std::chrono::seconds> DefaultLeaseTTL() override { return std::chrono::seconds(3600); }
  common::Result<std::chrono::seconds> MaxLeaseTTL() override { return std::chrono::seconds(86400); }
  common::Result<bool> Tainted() override { return false; }
  common::Result<bool> CachingDisabled() override { return false; }
  common::Result<bool> LocalMount() override { return false; }
  common::Result<uint32_t> ReplicationState() override { return 0u; }
  common::Result<std::optional<lg::Entity>> EntityInfo(const std::string&) override {
    return std::optional<lg::Entity>();
  }
  common::Result<std::vector<lg::Group>> GroupsForEntity(const std::string&) override {
    return std::vector<lg::Group>{};
  }
  common::Result<lg::PluginEnvironment> PluginEnv() override { return lg::PluginEnvironment{}; }
};

fw::FieldSchemaList ItemFields() {
  return {
      {.name = "name", .type = fw::FieldType::kNameString, .description = "item name"},
      {.name = "count", .type = fw::FieldType::kInt, .default_value = json(1)},
      {.name = "enabled", .type = fw::FieldType::kBool},
      {.name = "ttl", .type = fw::FieldType::kDurationSecond},
      {.name = "tags", .type = fw::FieldType::kCommaStringSlice},
      {.name = "labels", .type = fw::FieldType::kKVPairs},
      {.name = "headers", .type = fw::FieldType::kHeader},
      {.name = "extra", .type = fw::FieldType::kMap},
      {.name = "kind", .type = fw::FieldType::kLowerCaseString, .allowed_values = {"a", "b", "c"}},
      {.name = "owner", .type = fw::FieldType::kString, .required = true},
  };
}

lg::HandlerResult WriteItem(lg::Request& req, const fw::FieldData& d) {
  TC_ASSIGN_OR_RETURN(std::string name, d.GetString("name"));
  TC_ASSIGN_OR_RETURN(int64_t count, d.GetInt("count"));
  TC_ASSIGN_OR_RETURN(std::vector<std::string> tags, d.GetStringSlice("tags"));
  TC_ASSIGN_OR_RETURN(auto labels, d.GetStringMap("labels"));
  TC_ASSIGN_OR_RETURN(auto headers, d.GetHeader("headers"));
  TC_ASSIGN_OR_RETURN(int64_t ttl, d.GetDurationSeconds("ttl"));
  json stored = {{"count", count}, {"tags", tags}, {"labels", labels}, {"headers", headers}, {"ttl", ttl}};
  TC_RETURN_IF_ERROR(req.storage->Put({.key = "items/" + name, .value = taskcred::fuzz::SafeDump(stored)}));
  return std::optional<lg::Response>();
}

lg::HandlerResult ReadItem(lg::Request& req, const fw::FieldData& d) {
  TC_ASSIGN_OR_RETURN(std::string name, d.GetString("name"));
  TC_ASSIGN_OR_RETURN(auto entry, req.storage->Get("items/" + name));
  if (!entry) return std::optional<lg::Response>();
  lg::Response resp;
  json parsed = taskcred::fuzz::ParseJson(entry->value);
  TC_FUZZ_CHECK(parsed.is_object(), "stored item is not a JSON object");
  resp.data = parsed;
  return std::optional<lg::Response>(resp);
}

lg::HandlerResult ListItems(lg::Request& req, const fw::FieldData&) {
  TC_ASSIGN_OR_RETURN(auto keys, req.storage->List("items/"));
  lg::Response resp;
  resp.data = {{"keys", keys}};
  return std::optional<lg::Response>(resp);
}

lg::HandlerResult DeleteItem(lg::Request& req, const fw::FieldData& d) {
  TC_ASSIGN_OR_RETURN(std::string name, d.GetString("name"));
  TC_RETURN_IF_ERROR(req.storage->Delete("items/" + name));
  return std::optional<lg::Response>();
}

lg::HandlerResult Echo(lg::Request& req, const fw::FieldData& d) {
  lg::Response resp;
  resp.data = {{"rest", d.GetString("rest").ok() ? *d.GetString("rest") : ""}, {"raw", req.data}};
  return std::optional<lg::Response>(resp);
}

lg::HandlerResult Throws(lg::Request&, const fw::FieldData& d) {
  // Exceptions from handlers must be contained by the framework.
  if (d.GetInt("n").ok() && *d.GetInt("n") == 7) throw std::runtime_error("handler threw");
  return std::optional<lg::Response>();
}

std::unique_ptr<fw::Backend> MakeBackend() {
  fw::BackendSpec spec;
  spec.help = "fuzz backend";
  fw::Path items;
  items.pattern = "items/" + fw::GenericNameRegex("name");
  items.fields = ItemFields();
  items.existence_check = [](lg::Request& req, const fw::FieldData& d) -> common::Result<bool> {
    TC_ASSIGN_OR_RETURN(std::string name, d.GetString("name"));
    TC_ASSIGN_OR_RETURN(auto entry, req.storage->Get("items/" + name));
    return entry.has_value();
  };
  items.operations = {{lg::Operation::kCreate, WriteItem},
                      {lg::Operation::kUpdate, WriteItem},
                      {lg::Operation::kRead, ReadItem},
                      {lg::Operation::kDelete, DeleteItem}};
  fw::Path list;
  list.pattern = "items/?$";
  list.operations = {{lg::Operation::kList, ListItems}};
  fw::Path echo;
  echo.pattern = "echo" + fw::OptionalParamRegex("rest");
  echo.fields = {{.name = "rest", .type = fw::FieldType::kString}};
  echo.takes_arbitrary_input = true;
  echo.operations = {{lg::Operation::kUpdate, Echo}, {lg::Operation::kRead, Echo}};
  fw::Path thrower;
  thrower.pattern = "throw/" + fw::MatchAllRegex("tail");
  thrower.fields = {{.name = "tail", .type = fw::FieldType::kString},
                    {.name = "n", .type = fw::FieldType::kInt}};
  thrower.operations = {{lg::Operation::kUpdate, Throws}};
  spec.paths = {items, list, echo, thrower};
  auto b = fw::Backend::Create(std::move(spec));
  TC_FUZZ_CHECK(b.ok(), "Backend::Create: " + b.status().ToString());
  return std::move(b).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<fw::Backend> backend = MakeBackend();
  static NullSystemView system_view;
  auto parts = taskcred::fuzz::SplitLines(taskcred::fuzz::AsView(data, size), 2);
  auto op = lg::ParseOperation(parts[0]);
  if (!op) return 0;
  json body = parts[2].empty() ? json::object() : taskcred::fuzz::ParseJson(parts[2]);
  if (body.is_discarded()) return 0;

  lg::InmemStorage storage;  // fresh per input: runs stay independent
  lg::Request req;
  req.operation = *op;
  req.path = std::string(parts[1]);
  req.data = body.is_null() ? json::object() : body;
  req.storage = &storage;
  req.system_view = &system_view;
  req.mount_point = "fuzz/";

  (void)backend->Route(req.path);
  auto exists = backend->HandleExistenceCheck(req);
  (void)exists;
  for (int round = 0; round < 2; ++round) {  // second round sees what the first stored
    req.data = body.is_null() ? json::object() : body;  // each call takes its request's fields
    lg::HandlerResult result = backend->HandleRequest(req);
    if (result.ok() && result->has_value()) {
      TC_FUZZ_CHECK((*result)->data.is_object() || (*result)->data.is_null(), "response data is not an object");
      (void)taskcred::fuzz::SafeDump((*result)->data);
    } else if (!result.ok()) {
      TC_FUZZ_CHECK(!result.status().ok(), "error result with OK status");
      (void)result.status().ToString();
    }
  }
  return 0;
}
