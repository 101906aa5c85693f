// StatusStore: the mount's Token Status Lists (docs/status_list.md), one bit
// per JWT credential that is 1 once its task ended early.
//
//   status/<list_id>/alloc        slots handed out: a bitmap of kListSlots bits
//   status/<list_id>/bits/<page>  the INVALID bits of slots page*kPageSlots
//                                 onwards: a bitmap of kPageSlots bits
//
// list_id is "<hour>-<n>": <hour> the horizon hour of its credentials (hours
// since the epoch, 8 hex digits, as tasks/<hour>/), <n> 0, 1, ... as lists
// of that hour fill. A list is deleted by Tidy once its hour is past.
//
// Slots are drawn at random from a per-hour reserve this process keeps; a
// reserve of kReserveBatch random free slots costs one write of the alloc
// bitmap, so issuances add 1/64 of a write on average. A slot is marked
// taken in storage before it is handed out and is never handed out again:
// a reserve lost with its process only leaves slots unused. Vault's single
// active node is the only writer, as for task records. Safe for concurrent
// use.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fiber/mutex.h"
#include "logical/storage.h"
#include "statuslist/status_list.h"

namespace taskcred::engine {

inline constexpr std::string_view kStatusPrefix = "status/";

struct StatusSlot {
  std::string list_id;
  uint32_t idx = 0;
  bool operator==(const StatusSlot&) const = default;
};

class StatusStore {
 public:
  static constexpr uint32_t kListSlots = uint32_t{1} << 16;
  static constexpr uint32_t kPageSlots = 8192;
  static constexpr uint32_t kReserveBatch = 64;

  // A fresh slot in a list of the hour `horizon` falls in.
  common::Result<StatusSlot> Allocate(logical::Storage& storage, int64_t horizon);

  // Sets the slot's bit (its credential is INVALID): one page read (cached)
  // and one write. Idempotent (no write when already set).
  common::Status Invalidate(logical::Storage& storage, const StatusSlot& slot);

  // The list's bits, kListSlots of them; std::nullopt for a list that does
  // not exist (never allocated from, or tidied). A list seen to exist and
  // pages read once are remembered (dropped on InvalidateKey): a list read
  // again costs no storage call.
  common::Result<std::optional<statuslist::BitList>> Bits(logical::Storage& storage, std::string_view list_id);

  // The lists stored, sorted.
  common::Result<std::vector<std::string>> ListIds(logical::Storage& storage);

  // Deletes every list whose hour ended at or before now - margin; returns
  // how many.
  common::Result<int64_t> Tidy(logical::Storage& storage, int64_t now, int64_t margin);

  // Another node wrote `key`: forget what is cached of it.
  void InvalidateKey(std::string_view key);

  static bool IsValidListId(std::string_view list_id);

 private:
  struct Reserve {
    uint32_t list = 0;            // <n> of the list the slots are in
    std::vector<uint32_t> slots;  // taken in storage, not handed out
  };
  common::Status Refill(logical::Storage& storage, uint32_t hour, Reserve& reserve);
  common::Result<std::string> Page(logical::Storage& storage, const std::string& key);

  fiber::Mutex alloc_mu_;  // reserves_ and the alloc bitmaps' read-modify-write
  std::map<uint32_t, Reserve> reserves_;  // by hour
  fiber::Mutex page_mu_;   // the pages' read-modify-write
  std::mutex cache_mu_;
  std::map<std::string, std::string, std::less<>> pages_;  // page key -> bitmap
  std::set<std::string, std::less<>> known_;               // lists whose alloc entry exists
};

}  // namespace taskcred::engine
