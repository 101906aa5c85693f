// Typed JSON storage helpers over logical::Storage.
//
// Stored entries are plain structs with nlohmann to_json/from_json (for
// example NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT). Values are stored
// as compact JSON. Stateless; thread-safety is the Storage's.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "framework/field.h"
#include "logical/storage.h"

namespace taskcred::framework {

// Returns std::nullopt if `key` does not exist; Internal naming the key if the
// stored value is not JSON or does not decode as T; storage errors as is.
template <typename T>
common::Result<std::optional<T>> GetJson(logical::Storage& storage, std::string_view key) {
  TC_ASSIGN_OR_RETURN(std::optional<logical::StorageEntry> entry, storage.Get(key));
  if (!entry) return std::optional<T>();
  nlohmann::json j = nlohmann::json::parse(entry->value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return common::Status::Internal("storage entry \"" + std::string(key) + "\" is not valid JSON");
  }
  try {
    return std::optional<T>(j.get<T>());
  } catch (const std::exception& e) {
    return common::Status::Internal("storage entry \"" + std::string(key) +
                                    "\" could not be decoded: " + e.what());
  }
}

// Stores `value` (anything nlohmann can serialize) as JSON at `key`.
template <typename T>
common::Status PutJson(logical::Storage& storage, std::string_view key, const T& value,
                       bool seal_wrap = false) {
  std::string encoded;
  try {
    encoded = nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception& e) {
    return common::Status::Internal("encoding storage entry \"" + std::string(key) + "\": " + e.what());
  }
  return storage.Put(
      logical::StorageEntry{.key = std::string(key), .value = std::move(encoded), .seal_wrap = seal_wrap});
}

inline common::Status DeleteKey(logical::Storage& storage, std::string_view key) {
  return storage.Delete(key);
}

// Returns the immediate children of `prefix`, sorted.
common::Result<std::vector<std::string>> ListKeys(logical::Storage& storage, std::string_view prefix);

// Returns up to `limit` sorted children of `prefix` strictly after `after`
// (limit <= 0: all). Uses Storage::ListPage (native paging where the host has it).
common::Result<std::vector<std::string>> ListPage(logical::Storage& storage, std::string_view prefix,
                                                  std::string_view after, int limit);

// The pagination fields list paths declare, as OpenBao's list endpoints:
// "after" (string) and "limit" (int, >= 0 enforced by ListPageFromFields).
inline constexpr std::string_view kListAfterField = "after";
inline constexpr std::string_view kListLimitField = "limit";
FieldSchema ListAfterField();
FieldSchema ListLimitField();
// "after"/"limit" from `data` (declared via the fields above; undeclared
// ones count as absent). InvalidArgument on a negative limit.
struct ListPaging {
  std::string after;
  int limit = 0;  // 0 = all
};
common::Result<ListPaging> ListPagingFromFields(const FieldData& data);
// ListPage with ListPagingFromFields(data).
common::Result<std::vector<std::string>> ListPageFromFields(logical::Storage& storage,
                                                            std::string_view prefix, const FieldData& data);

}  // namespace taskcred::framework
