#include <algorithm>
#include <array>
#include <utility>

#include "logical/inmem_storage.h"
#include "logical/operation.h"
#include "logical/storage.h"

namespace taskcred::logical {
namespace {

constexpr std::array<std::pair<Operation, std::string_view>, 14> kOperationNames = {{
    {Operation::kCreate, "create"},
    {Operation::kRead, "read"},
    {Operation::kUpdate, "update"},
    {Operation::kPatch, "patch"},
    {Operation::kDelete, "delete"},
    {Operation::kList, "list"},
    {Operation::kHelp, "help"},
    {Operation::kAliasLookahead, "alias-lookahead"},
    {Operation::kResolveRole, "resolve-role"},
    {Operation::kHeader, "header"},
    {Operation::kScan, "scan"},
    {Operation::kRevoke, "revoke"},
    {Operation::kRenew, "renew"},
    {Operation::kRollback, "rollback"},
}};

}  // namespace

std::string_view OperationName(Operation op) {
  for (const auto& [o, name] : kOperationNames) {
    if (o == op) return name;
  }
  return "unknown";
}

std::optional<Operation> ParseOperation(std::string_view name) {
  for (const auto& [o, n] : kOperationNames) {
    if (n == name) return o;
  }
  return std::nullopt;
}

Result<std::vector<std::string>> Storage::ListPage(std::string_view prefix, std::string_view after,
                                                   int limit) {
  TC_ASSIGN_OR_RETURN(std::vector<std::string> keys, List(prefix));
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> out;
  for (auto& k : keys) {
    if (!after.empty() && k <= after) continue;
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
    out.push_back(std::move(k));
  }
  return out;
}

Status CheckStorageKey(std::string_view key) {
  if (key.find("..") != std::string_view::npos) {
    return Status::InvalidArgument("storage key \"" + std::string(key) + "\" must not contain \"..\"");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> InmemStorage::List(std::string_view prefix) {
  TC_RETURN_IF_ERROR(CheckStorageKey(prefix));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (auto it = entries_.lower_bound(prefix); it != entries_.end(); ++it) {
    const std::string& key = it->first;
    if (key.compare(0, prefix.size(), prefix) != 0) break;
    std::string rest = key.substr(prefix.size());
    size_t slash = rest.find('/');
    if (slash != std::string::npos) rest.resize(slash + 1);
    if (out.empty() || out.back() != rest) out.push_back(std::move(rest));
  }
  return out;
}

Result<std::optional<StorageEntry>> InmemStorage::Get(std::string_view key) {
  TC_RETURN_IF_ERROR(CheckStorageKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::optional<StorageEntry>();
  return std::optional<StorageEntry>(it->second);
}

Status InmemStorage::Put(const StorageEntry& entry) {
  TC_RETURN_IF_ERROR(CheckStorageKey(entry.key));
  std::lock_guard<std::mutex> lock(mu_);
  entries_[entry.key] = entry;
  return Status::Ok();
}

Status InmemStorage::Delete(std::string_view key) {
  TC_RETURN_IF_ERROR(CheckStorageKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) entries_.erase(it);
  return Status::Ok();
}

size_t InmemStorage::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace taskcred::logical
