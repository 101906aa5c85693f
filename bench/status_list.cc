#include "status_list.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "cost.h"
#include "crypto/encoding.h"
#include "crypto/jwt.h"
#include "statuslist/status_list.h"

namespace taskcred::bench {
namespace {

struct Slot {
  std::string list_id;
  int64_t idx = 0;
};

std::optional<Slot> SlotOf(const RequestResult& issued) {
  auto jwt = crypto::DecodeJwt(issued.data["credential"].get<std::string>());
  if (!jwt.ok() || !jwt->claims.contains("status")) return std::nullopt;
  const json& sl = jwt->claims["status"]["status_list"];
  const std::string uri = sl["uri"];
  return Slot{uri.substr(uri.rfind('/') + 1), sl["idx"].get<int64_t>()};
}

// The raw list token of status/<id>.
std::string ReadList(Mount& m, const std::string& list_id) {
  RequestResult r = MustCall(m, "read", "status/" + list_id, nullptr);
  auto body = crypto::Base64Decode(r.data["http_raw_body"].get<std::string>());
  if (!body.ok()) Die("status list body is not base64");
  return *body;
}

}  // namespace

int RunStatusListBench(const StatusListBenchOptions& o) {
  std::printf("== status list: %lld credentials, %.1f%% revoked (plugin %s) ==\n",
              static_cast<long long>(o.credentials), o.revoked_percent, o.plugin.c_str());
  auto host = StartHost(o.plugin);
  Mount& m = TaskcredMount(*host, "ES256");
  const int64_t every = o.revoked_percent > 0 ? std::max<int64_t>(1, static_cast<int64_t>(100.0 / o.revoked_percent))
                                              : o.credentials + 1;
  std::vector<std::optional<RequestResult>> kept(static_cast<size_t>(o.credentials));
  std::atomic<int64_t> issued_so_far{0};  // (MeasureCost's i counts per caller)
  CostSpec issue_spec;
  issue_spec.requests = o.credentials;
  CostStats issued;
  auto brokered = [&m] { return StorageOps(m) + m.system_view().calls(); };
  bool ok = MeasureCost(host->pid(), issue_spec,
                        [&](int, int64_t) {
                          RequestResult r = Call(m, "update", "creds/jwt", json::object());
                          if (!Ok(r, "creds")) return false;
                          const int64_t n = issued_so_far.fetch_add(1);
                          if (n % every == 0 && n < o.credentials) kept[static_cast<size_t>(n)] = std::move(r);
                          return true;
                        },
                        brokered, &issued);
  if (!ok) Die("issuance failed");
  PrintCostHeader();
  PrintCost("creds jwt ES256 (status on)", issued);

  std::map<std::string, std::set<int64_t>> revoked;
  for (auto& r : kept) {
    if (!r) continue;
    std::optional<Slot> slot = SlotOf(*r);
    if (!slot) Die("a credential without a status claim");
    RequestResult done = m.HandleRequest(taskcred::test::LeaseRequest("revoke", *r));
    if (!Ok(done, "revoke")) Die("revoke failed");
    revoked[slot->list_id].insert(slot->idx);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the once-a-second re-signing

  RequestResult listed = MustCall(m, "list", "status/", nullptr);
  std::vector<std::string> ids = listed.data["keys"].get<std::vector<std::string>>();
  size_t wire = 0;
  int64_t set_total = 0;
  int mismatches = 0;
  std::printf("\n%-14s %10s %10s %12s\n", "list", "jwt bytes", "bits set", "revoked here");
  for (const std::string& id : ids) {
    std::string token = ReadList(m, id);
    auto jwt = crypto::DecodeJwt(token, 64 * 1024);
    if (!jwt.ok()) Die("status list token: " + jwt.status().ToString());
    auto bits = statuslist::Decode(jwt->claims["status_list"]);
    if (!bits.ok()) Die("status list: " + bits.status().ToString());
    std::set<int64_t> set;
    for (uint32_t i = 0; i < bits->capacity(); ++i) {
      if (bits->Get(i)) set.insert(i);
    }
    if (set != revoked[id]) ++mismatches;
    wire += token.size();
    set_total += static_cast<int64_t>(set.size());
    std::printf("%-14s %10zu %10zu %12zu\n", id.c_str(), token.size(), set.size(), revoked[id].size());
  }
  std::printf("%zu lists, %zu bytes on the wire in all (%.2f bytes per credential), %lld bits set, %s\n",
              ids.size(), wire, static_cast<double>(wire) / static_cast<double>(o.credentials),
              static_cast<long long>(set_total), mismatches == 0 ? "every bit as revoked" : "BITS DIFFER");
  if (ids.empty()) Die("no status list");

  // A cached list: no storage call, no signature.
  const std::string first = ids.front();
  std::printf("\nserving status/%s (cached):\n", first.c_str());
  PrintCostHeader();
  json rows = json::array();
  for (double rate : {0.0, 2000.0}) {
    CostSpec spec;
    spec.rate = rate;
    spec.requests = rate > 0 ? 10000 : 20000;
    CostStats s;
    if (!MeasureCost(host->pid(), spec,
                     [&](int, int64_t) { return Ok(Call(m, "read", "status/" + first, nullptr), "status read"); },
                     brokered, &s)) {
      Die("status read failed");
    }
    PrintCost(rate > 0 ? "status read cached, 2000/s" : "status read cached, saturated", s);
  }

  // A changed list: the first read after a revocation signs it again. The
  // same read of an unchanged list after the same pause is the control (an
  // idle plugin's first request costs a wake-up on this VM).
  std::vector<double> resign_us, cached_us;
  for (int i = 0; i < 9; ++i) {
    RequestResult r = MustCall(m, "update", "creds/jwt", json::object());
    std::optional<Slot> slot = SlotOf(r);
    if (!slot) Die("a credential without a status claim");
    (void)ReadList(m, slot->list_id);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    auto t0 = SteadyClock::now();
    (void)ReadList(m, slot->list_id);
    cached_us.push_back(Seconds(SteadyClock::now() - t0) * 1e6);
    if (!Ok(m.HandleRequest(taskcred::test::LeaseRequest("revoke", r)), "revoke")) Die("revoke failed");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    t0 = SteadyClock::now();
    (void)ReadList(m, slot->list_id);
    resign_us.push_back(Seconds(SteadyClock::now() - t0) * 1e6);
  }
  std::printf("read after a 1.1 s pause, latency through the harness (median of 9): re-signing a changed list "
              "%.0f us, the unchanged cached list %.0f us\n",
              Median(resign_us), Median(cached_us));
  return mismatches == 0 ? 0 : 1;
}

}  // namespace taskcred::bench
