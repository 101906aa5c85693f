// FieldData: typed access to a request's parameters.
#include <algorithm>
#include <limits>
#include <utility>

#include "framework/field.h"
#include "framework/field_internal.h"

namespace taskcred::framework {

using common::Result;
using common::Status;
using nlohmann::json;

namespace {

std::string Quoted(std::string_view name) { return "\"" + SanitizeUtf8(name) + "\""; }

}  // namespace

FieldData::FieldData(std::shared_ptr<const FieldSchemaList> schema, json raw)
    : schema_(schema ? std::move(schema) : std::make_shared<const FieldSchemaList>()),
      raw_(raw.is_object() ? std::move(raw) : json::object()) {}

FieldData::FieldData(FieldSchemaList schema, json raw)
    : FieldData(std::make_shared<const FieldSchemaList>(std::move(schema)), std::move(raw)) {}

const FieldSchema* FieldData::Find(std::string_view name) const {
  for (const FieldSchema& f : *schema_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Status FieldData::Validate() const {
  // raw_ is a std::map-backed object, so iteration is alphabetical.
  for (const auto& [key, value] : raw_.items()) {
    const FieldSchema* schema = Find(key);
    if (schema == nullptr) continue;
    Result<json> parsed = ParseField(*schema, value);
    if (!parsed.ok()) return parsed.status();
  }
  return Status::Ok();
}

Status FieldData::ValidateRequired() const {
  for (const FieldSchema& f : *schema_) {
    if (!f.required) continue;
    auto it = raw_.find(f.name);
    if (it == raw_.end() || it->is_null()) {
      return Status::InvalidArgument("missing required field " + Quoted(f.name));
    }
  }
  return Status::Ok();
}

bool FieldData::Has(std::string_view name) const {
  if (Find(name) == nullptr) return false;
  auto it = raw_.find(name);
  return it != raw_.end() && !it->is_null();
}

Result<json> FieldData::Value(std::string_view name, std::initializer_list<FieldType> allowed,
                              bool* present) const {
  const FieldSchema* schema = Find(name);
  if (schema == nullptr) {
    return Status::Internal("field " + Quoted(name) + " is not declared on this path");
  }
  if (allowed.size() > 0 && std::find(allowed.begin(), allowed.end(), schema->type) == allowed.end()) {
    return Status::Internal("field " + Quoted(name) + " has type " +
                            std::string(FieldTypeName(schema->type)) + ", which this getter does not read");
  }
  auto it = raw_.find(name);
  bool has = it != raw_.end() && !it->is_null();
  if (present != nullptr) *present = has;
  if (has) return ParseField(*schema, *it);
  return DefaultOrZero(*schema);
}

namespace {
constexpr std::initializer_list<FieldType> kStringTypes = {FieldType::kString, FieldType::kLowerCaseString,
                                                           FieldType::kNameString};
constexpr std::initializer_list<FieldType> kIntTypes = {
    FieldType::kInt, FieldType::kInt64, FieldType::kDurationSecond, FieldType::kSignedDurationSecond};
constexpr std::initializer_list<FieldType> kDurationTypes = {
    FieldType::kDurationSecond, FieldType::kSignedDurationSecond, FieldType::kInt, FieldType::kInt64};
constexpr std::initializer_list<FieldType> kSliceTypes = {FieldType::kStringSlice,
                                                          FieldType::kCommaStringSlice};
}  // namespace

Result<std::string> FieldData::GetString(std::string_view name) const {
  TC_ASSIGN_OR_RETURN(json v, Value(name, kStringTypes, nullptr));
  return v.get<std::string>();
}

Result<int64_t> FieldData::GetInt(std::string_view name) const {
  TC_ASSIGN_OR_RETURN(json v, Value(name, kIntTypes, nullptr));
  return v.get<int64_t>();
}

Result<bool> FieldData::GetBool(std::string_view name) const {
  TC_ASSIGN_OR_RETURN(json v, Value(name, {FieldType::kBool}, nullptr));
  return v.get<bool>();
}

Result<int64_t> FieldData::GetDurationSeconds(std::string_view name) const {
  TC_ASSIGN_OR_RETURN(json v, Value(name, kDurationTypes, nullptr));
  return v.get<int64_t>();
}

Result<std::chrono::seconds> FieldData::GetDuration(std::string_view name) const {
  TC_ASSIGN_OR_RETURN(int64_t secs, GetDurationSeconds(name));
  return std::chrono::seconds(secs);
}

Result<std::vector<std::string>> FieldData::GetStringSlice(std::string_view name) const {
  TC_ASSIGN_OR_RETURN(json v, Value(name, kSliceTypes, nullptr));
  return v.get<std::vector<std::string>>();
}

Result<std::map<std::string, std::string>> FieldData::GetStringMap(std::string_view name) const {
  TC_ASSIGN_OR_RETURN(json v, Value(name, {FieldType::kKVPairs}, nullptr));
  return v.get<std::map<std::string, std::string>>();
}

Result<std::map<std::string, std::vector<std::string>>> FieldData::GetHeader(std::string_view name) const {
  TC_ASSIGN_OR_RETURN(json v, Value(name, {FieldType::kHeader}, nullptr));
  return v.get<std::map<std::string, std::vector<std::string>>>();
}

Result<json> FieldData::GetJson(std::string_view name) const { return Value(name, {}, nullptr); }

namespace {

template <typename T, typename Getter>
Status UpdateIfPresent(const FieldData& data, std::string_view name, T& target, Getter get) {
  if (data.Find(name) == nullptr) {
    return Status::Internal("field \"" + SanitizeUtf8(name) + "\" is not declared on this path");
  }
  auto value = get();  // checks the type even when absent
  if (!value.ok()) return value.status();
  if (data.Has(name)) target = static_cast<T>(*std::move(value));
  return Status::Ok();
}

}  // namespace

Status FieldData::UpdateIfSet(std::string_view name, std::string& target) const {
  return UpdateIfPresent(*this, name, target, [&] { return GetString(name); });
}
Status FieldData::UpdateIfSet(std::string_view name, int64_t& target) const {
  return UpdateIfPresent(*this, name, target, [&] { return GetInt(name); });
}
Status FieldData::UpdateIfSet(std::string_view name, int& target) const {
  if (Find(name) == nullptr)
    return Status::Internal("field " + Quoted(name) + " is not declared on this path");
  Result<int64_t> v = GetInt(name);
  if (!v.ok()) return v.status();
  if (*v > std::numeric_limits<int>::max() || *v < std::numeric_limits<int>::min()) {
    return Status::InvalidArgument("field " + Quoted(name) + ": integer out of range: " + std::to_string(*v));
  }
  if (Has(name)) target = static_cast<int>(*v);
  return Status::Ok();
}
Status FieldData::UpdateIfSet(std::string_view name, bool& target) const {
  return UpdateIfPresent(*this, name, target, [&] { return GetBool(name); });
}
Status FieldData::UpdateIfSet(std::string_view name, std::chrono::seconds& target) const {
  return UpdateIfPresent(*this, name, target, [&] { return GetDuration(name); });
}
Status FieldData::UpdateIfSet(std::string_view name, std::vector<std::string>& target) const {
  return UpdateIfPresent(*this, name, target, [&] { return GetStringSlice(name); });
}
Status FieldData::UpdateIfSet(std::string_view name, std::map<std::string, std::string>& target) const {
  return UpdateIfPresent(*this, name, target, [&] { return GetStringMap(name); });
}
Status FieldData::UpdateIfSet(std::string_view name, json& target) const {
  return UpdateIfPresent(*this, name, target, [&] { return GetJson(name); });
}

}  // namespace taskcred::framework
