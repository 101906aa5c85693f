// StatusStore (docs/status_list.md): slots are random, never handed out
// twice (across restarts too), cost one write per 64, live in the list of
// their hour; a revocation sets one bit with one page write; lists of past
// hours are tidied.
#include "engine/status_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "logical/inmem_storage.h"

namespace taskcred::engine {
namespace {

// InmemStorage that counts what the store writes.
class CountingStorage : public logical::InmemStorage {
 public:
  common::Status Put(const logical::StorageEntry& entry) override {
    ++puts;
    return InmemStorage::Put(entry);
  }
  std::atomic<int> puts{0};
};

constexpr int64_t kHour = 3600;
constexpr int64_t kNow = int64_t{490000} * kHour + 100;  // some hour in 2025

TEST(StatusStoreTest, SlotsAreDistinctRandomAndOneWriteBuysSixtyFour) {
  CountingStorage storage;
  StatusStore store;
  std::vector<uint32_t> order;
  std::set<uint32_t> seen;
  for (int i = 0; i < 1000; ++i) {
    auto slot = store.Allocate(storage, kNow + 600);
    ASSERT_TRUE(slot.ok()) << slot.status().ToString();
    EXPECT_EQ(slot->list_id, "00077a10-0");  // 490000 = 0x77a10
    EXPECT_LT(slot->idx, StatusStore::kListSlots);
    EXPECT_TRUE(seen.insert(slot->idx).second) << "slot " << slot->idx << " handed out twice";
    order.push_back(slot->idx);
  }
  EXPECT_EQ(storage.puts.load(), (1000 + 63) / 64);
  // Not a sequence: neither in order nor in consecutive runs.
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
  int consecutive = 0;
  for (size_t i = 1; i < order.size(); ++i) consecutive += order[i] == order[i - 1] + 1;
  EXPECT_LT(consecutive, 10);
}

TEST(StatusStoreTest, ARestartedProcessNeverReusesASlot) {
  logical::InmemStorage storage;
  std::set<uint32_t> seen;
  for (int process = 0; process < 5; ++process) {
    StatusStore store;  // a new process: its reserve is gone, storage is not
    for (int i = 0; i < 30; ++i) {
      auto slot = store.Allocate(storage, kNow);
      ASSERT_TRUE(slot.ok());
      EXPECT_TRUE(seen.insert(slot->idx).second) << "process " << process << " reused slot " << slot->idx;
    }
  }
}

TEST(StatusStoreTest, RolesOfDifferentTtlsDoNotCostEachOtherWrites) {
  CountingStorage storage;
  StatusStore store;
  for (int i = 0; i < 640; ++i) {
    // Issuances alternate between a 10-minute and a 1-day credential.
    ASSERT_TRUE(store.Allocate(storage, kNow + (i % 2 == 0 ? 600 : 24 * kHour)).ok());
  }
  EXPECT_EQ(storage.puts.load(), 10) << "one reservation per 64 slots of each hour";
}

TEST(StatusStoreTest, EachHourHasItsListsAndAFullListStartsTheNext) {
  logical::InmemStorage storage;
  StatusStore store;
  auto a = store.Allocate(storage, kNow);
  auto b = store.Allocate(storage, kNow + kHour);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->list_id, "00077a10-0");
  EXPECT_EQ(b->list_id, "00077a11-0");
  std::set<uint32_t> seen = {a->idx};
  for (uint32_t i = 1; i < StatusStore::kListSlots; ++i) {
    auto s = store.Allocate(storage, kNow);
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->list_id, "00077a10-0") << i;
    seen.insert(s->idx);
  }
  EXPECT_EQ(seen.size(), StatusStore::kListSlots);
  auto next = store.Allocate(storage, kNow);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->list_id, "00077a10-1");
  auto ids = store.ListIds(storage);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<std::string>{"00077a10-0", "00077a10-1", "00077a11-0"}));
}

TEST(StatusStoreTest, InvalidateSetsOneBitWithOnePageWrite) {
  CountingStorage storage;
  StatusStore store;
  std::vector<StatusSlot> slots;
  for (int i = 0; i < 100; ++i) slots.push_back(*store.Allocate(storage, kNow));
  const int before = storage.puts.load();
  ASSERT_TRUE(store.Invalidate(storage, slots[3]).ok());
  ASSERT_TRUE(store.Invalidate(storage, slots[42]).ok());
  EXPECT_EQ(storage.puts.load(), before + 2);
  ASSERT_TRUE(store.Invalidate(storage, slots[3]).ok());  // already set: nothing written
  EXPECT_EQ(storage.puts.load(), before + 2);
  auto bits = store.Bits(storage, "00077a10-0");
  ASSERT_TRUE(bits.ok() && bits->has_value());
  EXPECT_EQ((*bits)->capacity(), StatusStore::kListSlots);
  for (size_t i = 0; i < slots.size(); ++i) EXPECT_EQ((*bits)->Get(slots[i].idx), i == 3 || i == 42) << i;
  // Through the claim codec, as a verifier reads it.
  auto decoded = statuslist::Decode(statuslist::Encode(**bits));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->Get(slots[42].idx));
}

TEST(StatusStoreTest, ConcurrentRevocationsOfOnePageLoseNoBit) {
  logical::InmemStorage storage;
  StatusStore store;
  std::vector<StatusSlot> slots;
  for (int i = 0; i < 400; ++i) slots.push_back(*store.Allocate(storage, kNow));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < slots.size(); i += 8) EXPECT_TRUE(store.Invalidate(storage, slots[i]).ok());
    });
  }
  for (auto& th : threads) th.join();
  StatusStore fresh;  // reads storage, not the cache
  auto bits = fresh.Bits(storage, "00077a10-0");
  ASSERT_TRUE(bits.ok() && bits->has_value());
  for (const StatusSlot& s : slots) EXPECT_TRUE((*bits)->Get(s.idx)) << s.idx;
}

TEST(StatusStoreTest, AnotherNodesWriteIsSeenAfterInvalidateKey) {
  logical::InmemStorage storage;
  StatusStore active, standby;
  StatusSlot slot = *active.Allocate(storage, kNow);
  auto before = standby.Bits(storage, slot.list_id);  // caches the pages
  ASSERT_TRUE(before.ok() && before->has_value());
  EXPECT_FALSE((*before)->Get(slot.idx));
  ASSERT_TRUE(active.Invalidate(storage, slot).ok());
  auto stale = standby.Bits(storage, slot.list_id);
  EXPECT_FALSE((*stale)->Get(slot.idx)) << "the cache is what makes this test able to fail";
  standby.InvalidateKey("status/" + slot.list_id + "/bits/" + std::to_string(slot.idx / StatusStore::kPageSlots));
  auto after = standby.Bits(storage, slot.list_id);
  EXPECT_TRUE((*after)->Get(slot.idx));
}

TEST(StatusStoreTest, TidyDeletesOnlyListsOfHoursPast) {
  logical::InmemStorage storage;
  StatusStore store;
  StatusSlot old_slot = *store.Allocate(storage, kNow - 3 * kHour);
  StatusSlot live = *store.Allocate(storage, kNow);
  ASSERT_TRUE(store.Invalidate(storage, old_slot).ok());
  ASSERT_TRUE(store.Invalidate(storage, live).ok());
  auto deleted = store.Tidy(storage, kNow, kHour);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);
  auto ids = store.ListIds(storage);
  EXPECT_EQ(*ids, std::vector<std::string>{live.list_id});
  auto gone = store.Bits(storage, old_slot.list_id);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  EXPECT_EQ(storage.List("status/" + old_slot.list_id + "/bits/")->size(), 0u);
  EXPECT_TRUE((*store.Bits(storage, live.list_id))->Get(live.idx));
}

TEST(StatusStoreTest, ListIdsAreOnlyTheOnesWeWrite) {
  for (const char* ok : {"00077a10-0", "00077a10-12", "ffffffff-4294967295"}) {
    EXPECT_TRUE(StatusStore::IsValidListId(ok)) << ok;
  }
  for (const char* bad : {"", "00077a10", "00077a10-", "00077A10-0", "0077a10-0", "00077a10-01", "00077a10-x",
                          "00077a10-4294967296", "../alloc", "00077a10-0/alloc"}) {
    EXPECT_FALSE(StatusStore::IsValidListId(bad)) << bad;
  }
  logical::InmemStorage storage;
  StatusStore store;
  auto none = store.Bits(storage, "../../keys/ring");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(store.Invalidate(storage, {"nope", 1}).ok());
  EXPECT_FALSE(store.Invalidate(storage, {"00077a10-0", StatusStore::kListSlots}).ok());
}

}  // namespace
}  // namespace taskcred::engine
