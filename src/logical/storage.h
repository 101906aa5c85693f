// Storage: the mount's key/value storage view, as Vault's logical.Storage.
//
// Keys are relative to the mount. Get returns std::nullopt when the key does
// not exist (not an error). List returns the immediate children of a prefix;
// sub-"directories" end in '/'. Implementations must be safe for concurrent use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace taskcred::logical {

using common::Result;
using common::Status;

struct StorageEntry {
  std::string key;
  std::string value;  // raw bytes
  bool seal_wrap = false;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual Result<std::vector<std::string>> List(std::string_view prefix) = 0;
  virtual Result<std::optional<StorageEntry>> Get(std::string_view key) = 0;
  virtual Status Put(const StorageEntry& entry) = 0;
  virtual Status Delete(std::string_view key) = 0;

  // Returns up to `limit` children of `prefix` sorted, strictly after `after`
  // ("" = from the start; limit <= 0 = no limit). The default implementation
  // filters List(); hosts with native pagination override it.
  virtual Result<std::vector<std::string>> ListPage(std::string_view prefix, std::string_view after,
                                                    int limit);
};

}  // namespace taskcred::logical
