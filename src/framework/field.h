// Fields: the typed parameters of a path, as Vault's framework.FieldSchema,
// FieldType and FieldData.
//
// A Path declares its fields as a std::vector<FieldSchema> (declaration order
// is kept for help). For each request the framework builds a FieldData from
// the request body/query merged with the URL captures (captures win), runs
// Validate() (every present, declared field must parse as its type and be one
// of its allowed values) and, for create/update, ValidateRequired(); only then
// is the handler called. Handlers read typed values through the getters, which
// return the parsed value, else the schema default, else the type's zero
// value. A getter on an undeclared field, or a getter that does not fit the
// field's type, is a programming error: it returns an Internal status (never
// crashes). FieldData is immutable and safe to read from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "framework/decl_string.h"

namespace taskcred::framework {

enum class FieldType {
  kString,                // any scalar, as a string (numbers and bools are formatted)
  kLowerCaseString,       // like kString, lowercased
  kNameString,            // a string matching ^\w(([\w-.]+)?\w)?$ (not lowercased)
  kInt,                   // 64-bit integer: JSON integer, integral float, numeric string, bool
  kInt64,                 // same as kInt (Vault keeps both names)
  kBool,                  // JSON bool, number (0 = false), "true"/"false"/"1"/"0"/"t"/"f"/...
  kMap,                   // JSON object (an empty array counts as {}); read with GetJson
  kDurationSecond,        // int seconds, numeric string or Go duration ("1h30m"); >= 0
  kSignedDurationSecond,  // like kDurationSecond, negative allowed
  kSlice,                 // JSON array of anything (a scalar becomes [scalar]); read with GetJson
  kStringSlice,           // JSON array of scalars (a scalar becomes [scalar]), trimmed
  kCommaStringSlice,      // like kStringSlice, and a string is split on ','
  kKVPairs,               // JSON object of scalars, or a list of "k=v" strings
  kHeader,                // map of header name -> list of values (object, JSON string, "k:v" list)
};

// Vault's name for the type in help text ("string", "duration (sec)", "slice", ...).
std::string_view FieldTypeName(FieldType type);

// UI hints, emitted as x-vault-displayAttrs in OpenAPI when any is set.
struct DisplayAttributes {
  DeclString name{};
  DeclString description{};
  nlohmann::json value{};  // null = unset
  bool sensitive = false;
  bool navigation = false;
  DeclString item_type{};
  DeclString group{};
  DeclString action{};
  DeclString operation_prefix{};
  DeclString operation_verb{};
  DeclString operation_suffix{};
  DeclString edit_type{};

  bool empty() const;
  nlohmann::json ToJson() const;  // Vault's camelCase keys, unset members omitted
};

struct FieldSchema {
  DeclString name{};
  FieldType type = FieldType::kString;
  bool required = false;  // enforced on create and update (400 "missing required field")
  DeclString description{};
  nlohmann::json default_value{};  // null = none; must parse as `type` (checked by Backend::Create)
  std::vector<nlohmann::json> allowed_values{};  // empty = any; compared after parsing
  bool deprecated = false;
  bool query = false;  // documented as a query parameter in OpenAPI
  DisplayAttributes display_attrs{};
};

using FieldSchemaList = std::vector<FieldSchema>;

class FieldData {
 public:
  // `raw` must be a JSON object (anything else is treated as empty).
  FieldData(std::shared_ptr<const FieldSchemaList> schema, nlohmann::json raw);
  FieldData(FieldSchemaList schema, nlohmann::json raw);

  // Returns InvalidArgument naming the first (alphabetical) present, declared
  // field that does not parse as its type or is not an allowed value.
  // Undeclared keys are ignored here.
  common::Status Validate() const;
  // Returns InvalidArgument `missing required field "x"` for the first
  // required field that is absent or null.
  common::Status ValidateRequired() const;

  // True if `name` is declared and present (non-null) in the request.
  bool Has(std::string_view name) const;
  // The declared schema of `name`, or nullptr.
  const FieldSchema* Find(std::string_view name) const;
  const FieldSchemaList& schema() const { return *schema_; }
  const nlohmann::json& raw() const { return raw_; }

  // Typed getters: the parsed value if present, else the default, else zero.
  // string types: GetString. kInt/kInt64/duration types: GetInt.
  // duration types (and kInt): GetDurationSeconds/GetDuration. kBool: GetBool.
  // kStringSlice/kCommaStringSlice: GetStringSlice. kKVPairs: GetStringMap.
  // kHeader: GetHeader. Any type: GetJson (the parsed value as JSON).
  common::Result<std::string> GetString(std::string_view name) const;
  common::Result<int64_t> GetInt(std::string_view name) const;
  common::Result<bool> GetBool(std::string_view name) const;
  common::Result<int64_t> GetDurationSeconds(std::string_view name) const;
  common::Result<std::chrono::seconds> GetDuration(std::string_view name) const;
  common::Result<std::vector<std::string>> GetStringSlice(std::string_view name) const;
  common::Result<std::map<std::string, std::string>> GetStringMap(std::string_view name) const;
  common::Result<std::map<std::string, std::vector<std::string>>> GetHeader(std::string_view name) const;
  common::Result<nlohmann::json> GetJson(std::string_view name) const;

  // Assigns the parsed value to `target` only if the field is present
  // (Go's `if v, ok := d.GetOk(k); ok { x = v }`). Same type rules as the
  // getters; an error leaves `target` unchanged.
  common::Status UpdateIfSet(std::string_view name, std::string& target) const;
  common::Status UpdateIfSet(std::string_view name, int64_t& target) const;
  common::Status UpdateIfSet(std::string_view name, int& target) const;
  common::Status UpdateIfSet(std::string_view name, bool& target) const;
  common::Status UpdateIfSet(std::string_view name, std::chrono::seconds& target) const;
  common::Status UpdateIfSet(std::string_view name, std::vector<std::string>& target) const;
  common::Status UpdateIfSet(std::string_view name, std::map<std::string, std::string>& target) const;
  common::Status UpdateIfSet(std::string_view name, nlohmann::json& target) const;

 private:
  // Parsed value or default/zero; Internal if undeclared or not in `allowed`.
  common::Result<nlohmann::json> Value(std::string_view name, std::initializer_list<FieldType> allowed,
                                       bool* present) const;

  std::shared_ptr<const FieldSchemaList> schema_{};
  nlohmann::json raw_{};
};

// Parses one raw JSON value as `schema.type` and checks allowed_values.
// Returns the normalized value: string, int64, bool, array of strings,
// object of strings (kKVPairs), object of string arrays (kHeader), any
// object (kMap), any array (kSlice). Errors are InvalidArgument naming the
// field and the expected form, e.g.
// `field "ttl": expected a duration ("90", "15m", "1h30m"), got "abc"`.
common::Result<nlohmann::json> ParseField(const FieldSchema& schema, const nlohmann::json& raw);

// The schema default parsed as its type, or the type's zero value.
common::Result<nlohmann::json> DefaultOrZero(const FieldSchema& schema);

// Parses a Go duration string ("1h30m", "1.5h", "300ms", "-2s") to nanoseconds.
common::Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text);
// Vault's parseutil.ParseDurationSecond: integer seconds, numeric string or Go
// duration string (with or without unit suffix "s"/"m"/"h"/"d"), truncated to seconds.
common::Result<int64_t> ParseDurationSecond(const nlohmann::json& raw);

}  // namespace taskcred::framework
