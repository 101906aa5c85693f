// Shared pieces of taskcred-bench: options, the request helpers over the
// host harness, closed-loop latency rows, and what /proc says about a
// process. The sections themselves are in taskcred_bench.cc (latency,
// ratios, memory, start-up, scale) and cost.cc (cost per request).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/plugin_host.h"

namespace taskcred::bench {

using nlohmann::json;
using taskcred::test::Mount;
using taskcred::test::PluginHost;
using taskcred::test::RequestResult;
using taskcred::test::RequestSpec;
using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string plugin = taskcred::test::TaskcredPluginPath();
  std::string mock = taskcred::test::MockPluginPath();
#ifdef TASKCRED_GOREF_BIN
  std::string goref = TASKCRED_GOREF_BIN;  // Go reference plugin ("" = none)
#else
  std::string goref;
#endif
  bool quick = false;
  int64_t ops = 2000;           // requests per measured row and level
  int64_t iterations = 100000;  // issuance+introspection pairs per memory batch
  int64_t scale = 100000;       // preloaded records for the scale section
  int launches = 20;            // exec -> handshake samples
  int repeat = 5;               // interleaved 1-caller re-measurements of the ratio rows
  std::vector<int> levels = {1, 8, 32};
  std::string json_path;
  bool cost_only = false;        // only the cost section (plugin CPU per request)
  double cost_seconds = 3;       // length of each paced cost row
  int64_t cost_requests = 4000;  // requests of each saturated cost row
  std::string cost_rows;         // only cost rows whose name contains this
  std::vector<double> cost_loads = {0, 1000, 2000};  // 0 = saturated, else req/s
  bool soak = false;             // only the kill/restart soak (soak.h)
  int soak_restarts = 20;
  int soak_callers = 8;
  int soak_interval_ms = 1500;
  bool memory_only = false;   // only the memory section (memory.h)
  bool large_bodies = false;  // only the large-body memory run (large_bodies.h)
  bool train = false;         // only the training run for a profile (train.h)
  int64_t train_requests = 3000;
  int large_body_count = 20;
  int large_body_mb = 10;
  bool status_list = false;  // only the status list run (status_list.h)
  int64_t status_credentials = 100000;
  double status_revoked_percent = 1.0;
  bool narrowing = false;  // only the long run of the narrowing property (tests/grants/narrowing_property.h)
  int64_t narrowing_rounds = 1000000;
  int64_t narrowing_seed = -1;  // -1: drawn from the clock
};

Options ParseArgs(int argc, char** argv);

[[noreturn]] void Die(const std::string& what);
double Seconds(SteadyClock::duration d);

struct Stats {
  int callers = 0;
  int64_t ops = 0;
  double seconds = 0;
  double throughput = 0;  // ops/s
  double p50_us = 0;
  double p99_us = 0;
};
json ToJson(const Stats& s);

// Runs `op(caller, i)` `total` times spread over `callers` threads that start
// together; `op` returns false on a failed request (fatal: figures of failing
// requests mean nothing).
using Op = std::function<bool(int caller, int64_t i)>;
Stats Measure(int callers, int64_t total, const Op& op);
void Warm(const Op& op, int n);

inline constexpr const char* kIssuer = "https://vault.example.com/v1/taskcred";

RequestResult Call(Mount& m, const std::string& operation, const std::string& path, json data,
                   std::chrono::milliseconds deadline = std::chrono::seconds(30));
bool Ok(const RequestResult& r, const std::string& what);
RequestResult MustCall(Mount& m, const std::string& operation, const std::string& path, json data);
// One introspection of a token from `tokens` (spread over callers), with a
// resource check the tokens' grants allow; `consume` spends a use.
Op IntrospectOp(Mount* m, std::vector<std::string> tokens, bool consume);
std::unique_ptr<PluginHost> StartHost(const std::string& binary);
// A set-up, initialized mount (`options.storage` to share one storage).
Mount& NewMount(PluginHost& host, taskcred::test::SetupOptions options = {});
// A taskcred mount signing with `alg`, with roles "jwt" and "opaque"
// (unlimited uses, 1 h TTL, two grants).
Mount& TaskcredMount(PluginHost& host, const std::string& alg);
int64_t StorageOps(Mount& m);

// Storage RPCs per request of `op`, measured serially after warm-up.
struct RoundTrips {
  double total = 0, gets = 0, puts = 0, lists = 0, deletes = 0;
  double system_view = 0;  // pb.SystemView calls (not storage, but also a broker round trip)
};
RoundTrips CountRoundTrips(Mount& m, const Op& op, int n = 20);

std::string LoadAvg();
double Median(std::vector<double> v);
// The `keys` of /proc/<pid>/<file> ("Key:  value kB" lines) as numbers.
json ProcFields(pid_t pid, const std::string& file, std::initializer_list<const char*> keys);
// VmRSS of `pid` in KiB (0 when unreadable): what operators and limits see.
int64_t VmRssKiB(pid_t pid);
// /proc/<pid>/status and smaps_rollup figures (KiB) and the mappings with
// the largest resident set: where the plugin's memory is.
json MemoryBreakdown(pid_t pid, int top = 0);

// The claims of a typical credential (for the in-process crypto floors).
json ClaimsSample();
void PrintStatsHeader();
void PrintStats(const std::string& name, const Stats& s);
// Preloads `n` task records (JWT, role "jwt") straight into the harness
// storage in the engine's record format and layout (tasks/<hour>/<id>).
void Preload(Mount& m, int64_t n, int64_t expires_at);

// The cost-per-request rows (cost_rows.cc), printed and returned as JSON.
json CostRows(const Options& opt, PluginHost& mock_host, Mount& mock, PluginHost& host,
              const std::map<std::string, Mount*>& mounts);

}  // namespace taskcred::bench
