#include "engine/json_util.h"

#include <set>

namespace taskcred::engine {

using common::Result;
using common::Status;

namespace {

Status WrongType(std::string_view name, std::string_view want) {
  return Status::Internal("stored member \"" + std::string(name) + "\" is not " + std::string(want));
}

}  // namespace

Status ReadMember(const nlohmann::json& j, std::string_view name, std::string& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return WrongType(name, "a string");
  out = it->get<std::string>();
  return Status::Ok();
}

Status ReadMember(const nlohmann::json& j, std::string_view name, int64_t& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_number_integer()) return WrongType(name, "an integer");
  out = it->get<int64_t>();
  return Status::Ok();
}

Status ReadMember(const nlohmann::json& j, std::string_view name, bool& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return WrongType(name, "a bool");
  out = it->get<bool>();
  return Status::Ok();
}

Status ReadMember(const nlohmann::json& j, std::string_view name, std::vector<std::string>& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return WrongType(name, "an array");
  std::vector<std::string> v;
  for (const auto& e : *it) {
    if (!e.is_string()) return WrongType(name, "an array of strings");
    v.push_back(e.get<std::string>());
  }
  out = std::move(v);
  return Status::Ok();
}

Status ReadMember(const nlohmann::json& j, std::string_view name, std::map<std::string, std::string>& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return WrongType(name, "an object");
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return WrongType(name, "an object of strings");
    m[k] = v.get<std::string>();
  }
  out = std::move(m);
  return Status::Ok();
}

Result<nlohmann::json> ParseStoredJson(std::string_view text, std::string_view what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::Internal(std::string(what) + ": stored entry is not valid JSON");
  return j;
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status ValidateAudienceList(std::string_view field, const std::vector<std::string>& audience) {
  std::set<std::string_view> seen;
  for (size_t i = 0; i < audience.size(); ++i) {
    const std::string& a = audience[i];
    std::string where = std::string(field) + "[" + std::to_string(i) + "]";
    if (a.empty()) return Status::InvalidArgument(where + ": must not be empty");
    if (a.size() > 1024) return Status::InvalidArgument(where + ": must be at most 1024 characters");
    for (char ch : a) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
        return Status::InvalidArgument(where + ": must not contain control characters");
      }
    }
    if (!seen.insert(a).second) return Status::InvalidArgument(where + ": duplicate audience \"" + a + "\"");
  }
  return Status::Ok();
}

}  // namespace taskcred::engine
