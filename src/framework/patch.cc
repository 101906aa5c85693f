// JSON merge patch over declared fields.
#include "framework/patch.h"

#include <utility>

namespace taskcred::framework {

common::Result<nlohmann::json> HandlePatchOperation(const FieldData& input, const nlohmann::json& resource,
                                                    const PatchPreprocessor& preprocessor) {
  if (resource.is_null()) return common::Status::InvalidArgument("resource does not exist");
  nlohmann::json patch = nlohmann::json::object();
  for (const auto& [key, value] : input.raw().items()) {
    if (input.Find(key) == nullptr) continue;  // only declared fields
    if (value.is_null()) {
      patch[key] = nullptr;
      continue;
    }
    TC_ASSIGN_OR_RETURN(nlohmann::json parsed, input.GetJson(key));
    patch[key] = std::move(parsed);
  }
  if (preprocessor) {
    TC_ASSIGN_OR_RETURN(patch, preprocessor(std::move(patch)));
  }
  nlohmann::json out = resource;
  out.merge_patch(patch);
  return out;
}

}  // namespace taskcred::framework
