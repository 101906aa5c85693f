// Write-ahead log entries, as Vault's framework WAL (wal.go).
//
// An operation with side effects outside storage (creating an upstream
// credential, say) first writes a WAL entry with PutWAL, does the work, then
// deletes the entry with DeleteWAL. If the process dies in between, the
// Backend's rollback operation hands entries older than the minimum age to the
// backend's WAL rollback function and deletes those it rolled back. Entries
// live at "wal/<id>" as JSON {"type": kind, "data": data, "created_at": unix
// seconds}, the Go SDK's layout. Stateless functions over a Storage.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "logical/storage.h"

namespace taskcred::framework {

inline constexpr std::string_view kWALPrefix = "wal/";

struct WALEntry {
  std::string id{};    // key below kWALPrefix; not stored in the value
  std::string kind{};  // stored as "type"
  nlohmann::json data{};
  int64_t created_at = 0;  // unix seconds
};

// Stores a new entry and returns its id (a random UUID).
common::Result<std::string> PutWAL(
    logical::Storage& storage, std::string_view kind, const nlohmann::json& data,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
// Returns std::nullopt if no entry `id` exists; Internal if it is not valid JSON.
common::Result<std::optional<WALEntry>> GetWAL(logical::Storage& storage, std::string_view id);
common::Status DeleteWAL(logical::Storage& storage, std::string_view id);
// Returns the ids of all entries.
common::Result<std::vector<std::string>> ListWAL(logical::Storage& storage);

// A random RFC 4122 version-4 UUID string (not from OpenSSL; fine for ids).
std::string GenerateUUID();

}  // namespace taskcred::framework
