// Response builders.
#include "framework/response.h"

namespace taskcred::framework {

logical::Response ListResponse(const std::vector<std::string>& keys) {
  logical::Response resp;
  resp.data = nlohmann::json::object();
  if (!keys.empty()) resp.data["keys"] = keys;
  return resp;
}

logical::Response ListResponseWithInfo(const std::vector<std::string>& keys, const nlohmann::json& key_info) {
  logical::Response resp = ListResponse(keys);
  nlohmann::json info = nlohmann::json::object();
  if (key_info.is_object()) {
    for (const std::string& k : keys) {
      auto it = key_info.find(k);
      if (it != key_info.end()) info[k] = *it;
    }
  }
  resp.data["key_info"] = std::move(info);
  return resp;
}

logical::Response HelpResponse(const std::string& text, const nlohmann::json& openapi) {
  logical::Response resp;
  resp.data = {{"help", text}, {"see_also", nlohmann::json::array()}};
  if (!openapi.is_null()) resp.data["openapi"] = openapi;
  return resp;
}

}  // namespace taskcred::framework
