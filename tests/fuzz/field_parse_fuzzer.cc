// Fuzz target (a): framework field parsing. The input is JSON request data
// for a schema holding one field of every FieldType (plus defaults and
// allowed values); every getter runs on it. Invalid input must be an error,
// never a crash, and a value ParseField accepts must be accepted again when
// fed back (parsing is idempotent on its own output for scalar types).
#include <cstddef>
#include <cstdint>

#include "framework/field.h"
#include "fuzz_util.h"

namespace fw = taskcred::framework;
using nlohmann::json;

namespace {

const std::vector<fw::FieldType>& AllTypes() {
  static const std::vector<fw::FieldType> types = {
      fw::FieldType::kString,          fw::FieldType::kLowerCaseString, fw::FieldType::kNameString,
      fw::FieldType::kInt,             fw::FieldType::kInt64,           fw::FieldType::kBool,
      fw::FieldType::kMap,             fw::FieldType::kDurationSecond,  fw::FieldType::kSignedDurationSecond,
      fw::FieldType::kSlice,           fw::FieldType::kStringSlice,     fw::FieldType::kCommaStringSlice,
      fw::FieldType::kKVPairs,         fw::FieldType::kHeader,
  };
  return types;
}

std::shared_ptr<const fw::FieldSchemaList> Schema() {
  static const auto schema = [] {
    auto list = std::make_shared<fw::FieldSchemaList>();
    for (fw::FieldType t : AllTypes()) {
      fw::FieldSchema f;
      f.name = std::string(fw::FieldTypeName(t));
      f.type = t;
      list->push_back(f);
    }
    // Variants with required / default / allowed values.
    fw::FieldSchema req{.name = "req", .type = fw::FieldType::kString, .required = true};
    fw::FieldSchema def{.name = "ttl", .type = fw::FieldType::kDurationSecond, .default_value = json("1h")};
    fw::FieldSchema allowed{.name = "mode", .type = fw::FieldType::kLowerCaseString, .allowed_values = {"a", "b"}};
    fw::FieldSchema allowed_int{.name = "n", .type = fw::FieldType::kInt, .allowed_values = {1, 2, 3}};
    list->push_back(req);
    list->push_back(def);
    list->push_back(allowed);
    list->push_back(allowed_int);
    return std::shared_ptr<const fw::FieldSchemaList>(list);
  }();
  return schema;
}

void ExerciseGetters(const fw::FieldData& d, const fw::FieldSchema& f) {
  const std::string name(f.name);
  (void)d.Has(name);
  switch (f.type) {
    case fw::FieldType::kString:
    case fw::FieldType::kLowerCaseString:
    case fw::FieldType::kNameString: {
      auto v = d.GetString(name);
      std::string s;
      (void)d.UpdateIfSet(name, s);
      break;
    }
    case fw::FieldType::kInt:
    case fw::FieldType::kInt64: {
      (void)d.GetInt(name);
      int64_t i64 = 0;
      int i = 0;
      (void)d.UpdateIfSet(name, i64);
      (void)d.UpdateIfSet(name, i);
      break;
    }
    case fw::FieldType::kBool: {
      (void)d.GetBool(name);
      bool b = false;
      (void)d.UpdateIfSet(name, b);
      break;
    }
    case fw::FieldType::kDurationSecond:
    case fw::FieldType::kSignedDurationSecond: {
      auto secs = d.GetDurationSeconds(name);
      auto dur = d.GetDuration(name);
      if (secs.ok() && dur.ok()) TC_FUZZ_CHECK(dur->count() == *secs, "GetDuration != GetDurationSeconds");
      if (f.type == fw::FieldType::kDurationSecond && secs.ok())
        TC_FUZZ_CHECK(*secs >= 0, "negative kDurationSecond accepted");
      std::chrono::seconds s{};
      (void)d.UpdateIfSet(name, s);
      break;
    }
    case fw::FieldType::kStringSlice:
    case fw::FieldType::kCommaStringSlice: {
      (void)d.GetStringSlice(name);
      std::vector<std::string> v;
      (void)d.UpdateIfSet(name, v);
      break;
    }
    case fw::FieldType::kKVPairs: {
      (void)d.GetStringMap(name);
      std::map<std::string, std::string> m;
      (void)d.UpdateIfSet(name, m);
      break;
    }
    case fw::FieldType::kHeader:
      (void)d.GetHeader(name);
      break;
    case fw::FieldType::kMap:
    case fw::FieldType::kSlice: {
      (void)d.GetJson(name);
      json j;
      (void)d.UpdateIfSet(name, j);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = taskcred::fuzz::AsView(data, size);
  json raw = taskcred::fuzz::ParseJson(text);
  if (raw.is_discarded()) {
    // Not JSON: still a useful string for the duration parsers.
    (void)fw::ParseGoDuration(text);
    (void)fw::ParseDurationSecond(json(std::string(text)));
    return 0;
  }
  if (raw.is_string()) (void)fw::ParseGoDuration(raw.get_ref<const std::string&>());
  (void)fw::ParseDurationSecond(raw);

  const auto schema = Schema();
  // Every field type over the whole value (so scalars, arrays and objects all
  // meet every parser), and idempotence of the parsed output.
  for (const fw::FieldSchema& f : *schema) {
    auto parsed = fw::ParseField(f, raw);
    if (parsed.ok()) {
      (void)taskcred::fuzz::SafeDump(*parsed);
      auto again = fw::ParseField(f, *parsed);
      TC_FUZZ_CHECK(again.ok(), "ParseField rejects its own output for " + std::string(fw::FieldTypeName(f.type)) +
                                    ": " + again.status().ToString());
    }
    (void)fw::DefaultOrZero(f);
  }

  // As request data: an object (a non-object goes in under every name).
  json request = raw;
  if (!request.is_object()) {
    request = json::object();
    for (const fw::FieldSchema& f : *schema) request[std::string(f.name)] = raw;
  }
  fw::FieldData fd(schema, request);
  (void)fd.Validate();
  (void)fd.ValidateRequired();
  for (const fw::FieldSchema& f : *schema) ExerciseGetters(fd, f);
  return 0;
}
