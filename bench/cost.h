// Cost of a request to the plugin process, as an operator pays it: CPU time
// (utime+stime from /proc/<pid>/stat over a row), context switches, threads,
// and the host's (this process's) CPU beside it. Rows run closed-loop
// ("saturated": each caller sends its next request when the last answers)
// or open-loop at a fixed total rate ("paced": request k is due at
// t0 + k/rate whatever the answers do), which is how Vault drives a plugin.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace taskcred::bench {

// CPU seconds (user+system), context switches summed over live threads,
// and thread count of a process (zeros for pid <= 0).
struct ProcCounters {
  double cpu_s = 0;
  int64_t ctx_switches = 0;
  int threads = 0;
};
ProcCounters ReadProc(pid_t pid);
// This process's CPU seconds (getrusage).
double SelfCpuSeconds();

struct CostSpec {
  int callers = 8;
  int64_t requests = 4000;
  double rate = 0;  // total requests/s; 0 = saturated (closed loop)
};

struct CostStats {
  int callers = 0;
  double rate = 0;  // 0 = saturated
  int64_t requests = 0;
  double seconds = 0;
  double throughput = 0;
  double p50_us = 0;
  double p99_us = 0;
  double plugin_cpu_us = 0;  // per request
  double host_cpu_us = 0;    // per request (this process: harness host + callers)
  double brokered = 0;       // brokered calls (storage + system view) per request
  double ctx_switches = 0;   // plugin context switches per request
  int threads = 0;           // plugin threads at the end of the row
};
nlohmann::json ToJson(const CostStats& s);

// Runs `op(caller, i)` as `spec` says against the plugin `pid` (0: no
// process figures, for in-process rows);
// `brokered()` returns the host's running count of brokered calls. Returns
// false (after printing why) if a request failed.
using CostOp = std::function<bool(int caller, int64_t i)>;
bool MeasureCost(pid_t pid, const CostSpec& spec, const CostOp& op, const std::function<int64_t()>& brokered,
                 CostStats* out);

void PrintCostHeader();
void PrintCost(const std::string& name, const CostStats& s);

}  // namespace taskcred::bench
