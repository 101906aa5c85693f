// Write-ahead log entries under wal/ (Go's wal.go layout).
#include "framework/wal.h"

#include <array>
#include <cstdio>
#include <mutex>
#include <random>

namespace taskcred::framework {

using common::Result;
using common::Status;
using nlohmann::json;

std::string GenerateUUID() {
  static std::mutex mu;
  static std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    std::mt19937_64 g(seq);
    return g;
  }()};
  std::array<uint8_t, 16> b{};
  {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < b.size(); i += 8) {
      uint64_t r = gen();
      for (size_t j = 0; j < 8; ++j) b[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);
  std::array<char, 37> out{};
  std::snprintf(out.data(), out.size(),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return std::string(out.data(), 36);
}

Result<std::string> PutWAL(logical::Storage& storage, std::string_view kind, const json& data,
                           std::chrono::system_clock::time_point now) {
  json entry = {
      {"type", std::string(kind)},
      {"data", data},
      {"created_at", std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()}};
  std::string id = GenerateUUID();
  TC_RETURN_IF_ERROR(
      storage.Put(logical::StorageEntry{.key = std::string(kWALPrefix) + id,
                                        .value = entry.dump(-1, ' ', false, json::error_handler_t::replace),
                                        .seal_wrap = false}));
  return id;
}

Result<std::optional<WALEntry>> GetWAL(logical::Storage& storage, std::string_view id) {
  TC_ASSIGN_OR_RETURN(std::optional<logical::StorageEntry> stored,
                      storage.Get(std::string(kWALPrefix) + std::string(id)));
  if (!stored) return std::optional<WALEntry>();
  json j = json::parse(stored->value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Internal("WAL entry \"" + std::string(id) + "\" is not valid JSON");
  }
  WALEntry entry;
  entry.id = std::string(id);
  if (auto it = j.find("type"); it != j.end() && it->is_string()) entry.kind = it->get<std::string>();
  if (auto it = j.find("data"); it != j.end()) entry.data = *it;
  if (auto it = j.find("created_at"); it != j.end() && it->is_number()) entry.created_at = it->get<int64_t>();
  return std::optional<WALEntry>(std::move(entry));
}

Status DeleteWAL(logical::Storage& storage, std::string_view id) {
  return storage.Delete(std::string(kWALPrefix) + std::string(id));
}

Result<std::vector<std::string>> ListWAL(logical::Storage& storage) {
  TC_ASSIGN_OR_RETURN(std::vector<std::string> keys, storage.List(kWALPrefix));
  for (std::string& k : keys) {
    if (k.rfind(kWALPrefix, 0) == 0) k.erase(0, kWALPrefix.size());
  }
  return keys;
}

}  // namespace taskcred::framework
