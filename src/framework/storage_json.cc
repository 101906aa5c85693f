// Listing helpers over logical::Storage.
#include "framework/storage_json.h"

#include <algorithm>

namespace taskcred::framework {

using common::Result;
using common::Status;

Result<std::vector<std::string>> ListKeys(logical::Storage& storage, std::string_view prefix) {
  TC_ASSIGN_OR_RETURN(std::vector<std::string> keys, storage.List(prefix));
  std::sort(keys.begin(), keys.end());
  return keys;
}

Result<std::vector<std::string>> ListPage(logical::Storage& storage, std::string_view prefix,
                                          std::string_view after, int limit) {
  return storage.ListPage(prefix, after, limit);
}

FieldSchema ListAfterField() {
  return {.name = kListAfterField,
          .type = FieldType::kString,
          .description = "Optional entry to list begin listing after, not required to exist.",
          .query = true};
}

FieldSchema ListLimitField() {
  return {.name = kListLimitField,
          .type = FieldType::kInt,
          .description = "Optional number of entries to return; defaults to all entries.",
          .query = true};
}

Result<ListPaging> ListPagingFromFields(const FieldData& data) {
  ListPaging paging;
  int64_t limit = 0;
  if (data.Find(kListAfterField) != nullptr) {
    TC_ASSIGN_OR_RETURN(paging.after, data.GetString(kListAfterField));
  }
  if (data.Find(kListLimitField) != nullptr) {
    TC_ASSIGN_OR_RETURN(limit, data.GetInt(kListLimitField));
  }
  if (limit < 0) return Status::InvalidArgument("field \"limit\": must be zero or positive");
  paging.limit = static_cast<int>(std::min<int64_t>(limit, std::numeric_limits<int>::max()));
  return paging;
}

Result<std::vector<std::string>> ListPageFromFields(logical::Storage& storage, std::string_view prefix,
                                                    const FieldData& data) {
  TC_ASSIGN_OR_RETURN(ListPaging paging, ListPagingFromFields(data));
  return storage.ListPage(prefix, paging.after, paging.limit);
}

}  // namespace taskcred::framework
