// Field type names and display attributes.
#include <string_view>

#include "framework/field.h"

namespace taskcred::framework {

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kString: return "string";
    case FieldType::kLowerCaseString: return "lowercase string";
    case FieldType::kNameString: return "name string";
    case FieldType::kInt: return "int";
    case FieldType::kInt64: return "int64";
    case FieldType::kBool: return "bool";
    case FieldType::kMap: return "map";
    case FieldType::kKVPairs: return "keypair";
    case FieldType::kDurationSecond:
    case FieldType::kSignedDurationSecond: return "duration (sec)";
    case FieldType::kSlice:
    case FieldType::kStringSlice:
    case FieldType::kCommaStringSlice: return "slice";
    case FieldType::kHeader: return "header";
  }
  return "unknown type";
}

bool DisplayAttributes::empty() const { return ToJson().empty(); }

nlohmann::json DisplayAttributes::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  auto put = [&out](const char* key, const std::string& v) {
    if (!v.empty()) out[key] = v;
  };
  put("name", name);
  put("description", description);
  if (!value.is_null()) out["value"] = value;
  if (sensitive) out["sensitive"] = true;
  if (navigation) out["navigation"] = true;
  put("itemType", item_type);
  put("group", group);
  put("action", action);
  put("operationPrefix", operation_prefix);
  put("operationVerb", operation_verb);
  put("operationSuffix", operation_suffix);
  put("editType", edit_type);
  return out;
}

}  // namespace taskcred::framework
