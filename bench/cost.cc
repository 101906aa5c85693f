#include "cost.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <latch>
#include <sstream>
#include <thread>
#include <vector>

namespace taskcred::bench {

using Clock = std::chrono::steady_clock;

ProcCounters ReadProc(pid_t pid) {
  ProcCounters c;
  if (pid <= 0) return c;
  const std::string base = "/proc/" + std::to_string(pid);
  {
    std::ifstream f(base + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces) start at ") ".
    auto close = text.rfind(')');
    if (close != std::string::npos) {
      std::istringstream in(text.substr(close + 2));
      std::string field;
      // state(3) ... utime is field 14, stime 15, num_threads 20 (1-based).
      std::vector<std::string> v;
      while (in >> field) v.push_back(field);
      if (v.size() > 17) {
        const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
        c.cpu_s = (std::stod(v[11]) + std::stod(v[12])) / tick;
        c.threads = std::stoi(v[17]);
      }
    }
  }
  if (DIR* d = opendir((base + "/task").c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream f(base + "/task/" + e->d_name + "/status");
      std::string line;
      while (std::getline(f, line)) {
        if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
          c.ctx_switches += std::strtoll(line.c_str() + line.find(':') + 1, nullptr, 10);
        }
      }
    }
    closedir(d);
  }
  return c;
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

nlohmann::json ToJson(const CostStats& s) {
  return {{"callers", s.callers},          {"rate", s.rate},
          {"requests", s.requests},        {"seconds", s.seconds},
          {"ops_per_s", s.throughput},     {"p50_us", s.p50_us},
          {"p99_us", s.p99_us},            {"plugin_cpu_us_per_request", s.plugin_cpu_us},
          {"host_cpu_us_per_request", s.host_cpu_us}, {"brokered_calls_per_request", s.brokered},
          {"ctx_switches_per_request", s.ctx_switches}, {"plugin_threads", s.threads}};
}

bool MeasureCost(pid_t pid, const CostSpec& spec, const CostOp& op, const std::function<int64_t()>& brokered,
                 CostStats* out) {
  const int callers = std::max(1, spec.callers);
  const int64_t per_caller = std::max<int64_t>(1, (spec.requests + callers - 1) / callers);
  std::vector<std::vector<double>> lat(callers);
  std::atomic<bool> failed{false};
  std::latch start(callers + 1);
  Clock::time_point t0;
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      lat[c].reserve(per_caller);
      start.arrive_and_wait();
      for (int64_t i = 0; i < per_caller && !failed.load(std::memory_order_relaxed); ++i) {
        if (spec.rate > 0) {
          // Open loop: request k (interleaved over the callers) is due at t0 + k/rate.
          const double k = static_cast<double>(i * callers + c);
          std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(k / spec.rate)));
        }
        auto a = Clock::now();
        if (!op(c, i)) failed = true;
        lat[c].push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
      }
    });
  }
  const ProcCounters p0 = ReadProc(pid);
  const double h0 = SelfCpuSeconds();
  const int64_t b0 = brokered();
  t0 = Clock::now() + std::chrono::milliseconds(5);
  start.arrive_and_wait();
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  const ProcCounters p1 = ReadProc(pid);
  const double h1 = SelfCpuSeconds();
  const int64_t b1 = brokered();
  if (failed) return false;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  const double n = static_cast<double>(all.size());
  CostStats s;
  s.callers = callers;
  s.rate = spec.rate;
  s.requests = static_cast<int64_t>(all.size());
  s.seconds = elapsed;
  s.throughput = n / std::max(elapsed, 1e-9);
  s.p50_us = all[all.size() / 2];
  s.p99_us = all[std::min(all.size() - 1, static_cast<size_t>(n * 0.99))];
  s.plugin_cpu_us = (p1.cpu_s - p0.cpu_s) * 1e6 / n;
  s.host_cpu_us = (h1 - h0) * 1e6 / n;
  s.brokered = static_cast<double>(b1 - b0) / n;
  s.ctx_switches = static_cast<double>(p1.ctx_switches - p0.ctx_switches) / n;
  s.threads = p1.threads;
  *out = s;
  return true;
}

void PrintCostHeader() {
  std::printf("%-30s %9s %4s %8s %9s %9s %10s %9s %7s %6s %4s\n", "operation", "load", "conc", "ops/s", "p50 us",
              "p99 us", "plugin us", "host us", "broker", "ctxsw", "thr");
}

void PrintCost(const std::string& name, const CostStats& s) {
  char load[32];
  if (s.rate > 0) {
    std::snprintf(load, sizeof(load), "%.0f/s", s.rate);
  } else {
    std::snprintf(load, sizeof(load), "saturated");
  }
  std::printf("%-30s %9s %4d %8.0f %9.1f %9.1f %10.1f %9.1f %7.2f %6.2f %4d\n", name.c_str(), load, s.callers,
              s.throughput, s.p50_us, s.p99_us, s.plugin_cpu_us, s.host_cpu_us, s.brokered, s.ctx_switches, s.threads);
  std::fflush(stdout);
}

}  // namespace taskcred::bench
