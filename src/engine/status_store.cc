#include "engine/status_store.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "crypto/random.h"
#include "engine/storage_keys.h"

namespace taskcred::engine {

using common::Result;
using common::Status;

namespace {

constexpr size_t kHourDigits = 8;

std::string ListId(uint32_t hour, uint32_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08x-%u", hour, n);
  return buf;
}

std::string AllocKey(std::string_view list_id) { return std::string(kStatusPrefix) + std::string(list_id) + "/alloc"; }

std::string PageKey(std::string_view list_id, uint32_t page) {
  return std::string(kStatusPrefix) + std::string(list_id) + "/bits/" + std::to_string(page);
}

// A uniform draw from [0, n), n > 0, from the CSPRNG (rejection sampling).
uint32_t Uniform(uint32_t n) {
  const uint32_t limit = UINT32_MAX - UINT32_MAX % n;
  while (true) {
    uint32_t v = 0;
    const std::string r = crypto::RandomBytes(sizeof v);
    std::memcpy(&v, r.data(), sizeof v);
    if (v < limit) return v % n;
  }
}

// Hour and n of a list id; nullopt unless it is one we write.
std::optional<std::pair<uint32_t, uint32_t>> ParseListId(std::string_view id) {
  if (id.size() < kHourDigits + 2 || id.size() > kHourDigits + 11 || id[kHourDigits] != '-') return std::nullopt;
  for (char c : id.substr(0, kHourDigits)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  uint32_t hour = 0, n = 0;
  std::from_chars(id.data(), id.data() + kHourDigits, hour, 16);
  std::string_view tail = id.substr(kHourDigits + 1);
  if (tail.size() > 1 && tail[0] == '0') return std::nullopt;  // one spelling per list
  auto [ptr, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), n, 10);
  if (ec != std::errc() || ptr != tail.data() + tail.size()) return std::nullopt;
  return std::make_pair(hour, n);
}

}  // namespace

bool StatusStore::IsValidListId(std::string_view list_id) { return ParseListId(list_id).has_value(); }

Status StatusStore::Refill(logical::Storage& storage, uint32_t hour, Reserve& reserve) {
  while (true) {
    const std::string key = AllocKey(ListId(hour, reserve.list));
    TC_ASSIGN_OR_RETURN(auto entry, storage.Get(key));
    statuslist::BitList alloc = entry ? statuslist::BitList::FromBytes(std::move(entry->value))
                                      : statuslist::BitList(kListSlots);
    if (alloc.capacity() != kListSlots) return Status::Internal("stored status list allocation is malformed: " + key);
    // Random probes find free slots at once in a list that is not nearly
    // full; a list with few left is scanned for them instead.
    std::vector<uint32_t> taken;
    for (uint32_t probe = 0; probe < 4 * kReserveBatch && taken.size() < kReserveBatch; ++probe) {
      const uint32_t i = Uniform(kListSlots);
      if (alloc.Get(i)) continue;
      alloc.Set(i, true);
      taken.push_back(i);
    }
    if (taken.size() < kReserveBatch) {
      std::vector<uint32_t> free;
      for (uint32_t i = 0; i < kListSlots; ++i) {
        if (!alloc.Get(i)) free.push_back(i);
      }
      // A random selection of what is left (partial Fisher-Yates).
      const size_t more = std::min<size_t>(kReserveBatch - taken.size(), free.size());
      for (size_t i = 0; i < more; ++i) {
        std::swap(free[i], free[i + Uniform(static_cast<uint32_t>(free.size() - i))]);
        alloc.Set(free[i], true);
        taken.push_back(free[i]);
      }
    }
    if (taken.empty()) {
      ++reserve.list;  // full: the next list of the hour
      continue;
    }
    // Taken in storage first: a slot is never handed out twice, whatever
    // happens to this process after the write.
    TC_RETURN_IF_ERROR(storage.Put({key, alloc.bytes(), false}));
    {
      std::lock_guard<std::mutex> cache(cache_mu_);
      known_.insert(ListId(hour, reserve.list));
    }
    reserve.slots = std::move(taken);
    return Status::Ok();
  }
}

Result<StatusSlot> StatusStore::Allocate(logical::Storage& storage, int64_t horizon) {
  const auto hour = static_cast<uint32_t>(std::clamp<int64_t>(horizon / kExpiryBucketSeconds, 0, UINT32_MAX));
  std::lock_guard<fiber::Mutex> lock(alloc_mu_);
  Reserve& reserve = reserves_[hour];
  if (reserve.slots.empty()) TC_RETURN_IF_ERROR(Refill(storage, hour, reserve));
  // The reserve is already a random order; drawing at random again keeps
  // two issuances in a row unrelated however the reserve was filled.
  std::swap(reserve.slots[Uniform(static_cast<uint32_t>(reserve.slots.size()))], reserve.slots.back());
  StatusSlot slot{ListId(hour, reserve.list), reserve.slots.back()};
  reserve.slots.pop_back();
  return slot;
}

Result<std::string> StatusStore::Page(logical::Storage& storage, const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (auto it = pages_.find(key); it != pages_.end()) return it->second;
  }
  TC_ASSIGN_OR_RETURN(auto entry, storage.Get(key));
  std::string bytes = entry ? std::move(entry->value) : std::string(kPageSlots / 8, '\0');
  if (bytes.size() != kPageSlots / 8) return Status::Internal("stored status list page is malformed: " + key);
  std::lock_guard<std::mutex> lock(cache_mu_);
  pages_.emplace(key, bytes);
  return bytes;
}

Status StatusStore::Invalidate(logical::Storage& storage, const StatusSlot& slot) {
  if (!IsValidListId(slot.list_id) || slot.idx >= kListSlots) {
    return Status::Internal("not a status list slot: " + slot.list_id + "/" + std::to_string(slot.idx));
  }
  const std::string key = PageKey(slot.list_id, slot.idx / kPageSlots);
  std::lock_guard<fiber::Mutex> lock(page_mu_);
  TC_ASSIGN_OR_RETURN(std::string bytes, Page(storage, key));
  statuslist::BitList page = statuslist::BitList::FromBytes(std::move(bytes));
  if (page.Get(slot.idx % kPageSlots)) return Status::Ok();
  page.Set(slot.idx % kPageSlots, true);
  TC_RETURN_IF_ERROR(storage.Put({key, page.bytes(), false}));
  std::lock_guard<std::mutex> cache(cache_mu_);
  pages_[key] = page.bytes();
  return Status::Ok();
}

Result<std::optional<statuslist::BitList>> StatusStore::Bits(logical::Storage& storage, std::string_view list_id) {
  if (!IsValidListId(list_id)) return std::optional<statuslist::BitList>();
  bool known = false;
  {
    std::lock_guard<std::mutex> cache(cache_mu_);
    known = known_.contains(list_id);
  }
  if (!known) {
    TC_ASSIGN_OR_RETURN(auto alloc, storage.Get(AllocKey(list_id)));
    if (!alloc) return std::optional<statuslist::BitList>();
    std::lock_guard<std::mutex> cache(cache_mu_);
    known_.emplace(list_id);
  }
  std::string bytes;
  bytes.reserve(kListSlots / 8);
  for (uint32_t page = 0; page < kListSlots / kPageSlots; ++page) {
    TC_ASSIGN_OR_RETURN(std::string part, Page(storage, PageKey(list_id, page)));
    bytes += part;
  }
  return std::optional<statuslist::BitList>(statuslist::BitList::FromBytes(std::move(bytes)));
}

Result<std::vector<std::string>> StatusStore::ListIds(logical::Storage& storage) {
  TC_ASSIGN_OR_RETURN(std::vector<std::string> entries, storage.List(kStatusPrefix));
  std::vector<std::string> ids;
  for (std::string& e : entries) {
    if (e.empty() || e.back() != '/') continue;
    e.pop_back();
    if (IsValidListId(e)) ids.push_back(std::move(e));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<int64_t> StatusStore::Tidy(logical::Storage& storage, int64_t now, int64_t margin) {
  {
    // Reserves of hours already past are of no more use (their slots stay
    // taken; the lists go below once past the margin).
    std::lock_guard<fiber::Mutex> lock(alloc_mu_);
    while (!reserves_.empty() && (static_cast<int64_t>(reserves_.begin()->first) + 1) * kExpiryBucketSeconds <= now) {
      reserves_.erase(reserves_.begin());
    }
  }
  TC_ASSIGN_OR_RETURN(std::vector<std::string> ids, ListIds(storage));
  int64_t deleted = 0;
  for (const std::string& id : ids) {
    const auto parsed = ParseListId(id);
    if ((static_cast<int64_t>(parsed->first) + 1) * kExpiryBucketSeconds > now - margin) continue;
    // Pages first, the alloc bitmap last: a list half deleted by a failure
    // is still listed and tidied again next time.
    const std::string bits_prefix = std::string(kStatusPrefix) + id + "/bits/";
    TC_ASSIGN_OR_RETURN(std::vector<std::string> pages, storage.List(bits_prefix));
    for (const std::string& page : pages) {
      TC_RETURN_IF_ERROR(storage.Delete(bits_prefix + page));
      InvalidateKey(bits_prefix + page);
    }
    TC_RETURN_IF_ERROR(storage.Delete(AllocKey(id)));
    InvalidateKey(AllocKey(id));
    ++deleted;
  }
  return deleted;
}

void StatusStore::InvalidateKey(std::string_view key) {
  if (!key.starts_with(kStatusPrefix)) return;
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (auto it = pages_.find(key); it != pages_.end()) pages_.erase(it);
  // status/<list_id>/alloc: the list may be gone (tidied by the active node).
  constexpr std::string_view kAllocSuffix = "/alloc";
  if (key.ends_with(kAllocSuffix)) {
    std::string_view id = key.substr(kStatusPrefix.size(), key.size() - kStatusPrefix.size() - kAllocSuffix.size());
    if (auto it = known_.find(id); it != known_.end()) known_.erase(it);
  }
}

}  // namespace taskcred::engine
