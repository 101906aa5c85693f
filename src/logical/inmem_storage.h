// InmemStorage: a Storage in a std::map, for tests and harnesses. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "logical/storage.h"

namespace taskcred::logical {

class InmemStorage : public Storage {
 public:
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  Result<std::optional<StorageEntry>> Get(std::string_view key) override;
  Status Put(const StorageEntry& entry) override;
  Status Delete(std::string_view key) override;

  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, StorageEntry, std::less<>> entries_;
};

// Rejects keys Vault's storage view rejects (empty path elements are fine,
// ".." is not). Returns an InvalidArgument status naming the key.
Status CheckStorageKey(std::string_view key);

}  // namespace taskcred::logical
