#include "memory.h"

#include <cstdio>

namespace taskcred::bench {

namespace {

double MiB(const json& j, const char* key) { return j.value(key, int64_t{0}) / 1024.0; }

double PrivateMiB(const json& j) {
  return (j.value("Private_Clean", int64_t{0}) + j.value("Private_Dirty", int64_t{0})) / 1024.0;
}

// 8 callers, `n` pairs of issuance (JWT and opaque in turn) + introspection.
double IssueAndIntrospect(Mount& m, int64_t n) {
  auto t0 = SteadyClock::now();
  Measure(8, n, [&m](int, int64_t i) {
    const std::string role = (i % 2 == 0) ? "jwt" : "opaque";
    RequestResult r = Call(m, "update", "creds/" + role, json::object());
    if (!Ok(r, "creds")) return false;
    RequestResult in = Call(m, "update", "introspect", {{"token", r.data["credential"]}});
    return Ok(in, "introspect") && in.data["active"] == true;
  });
  return Seconds(SteadyClock::now() - t0);
}

}  // namespace

json MeasureMemory(const Options& opt) {
  std::printf("\n== memory of the plugin process (VmRSS) ==\n");
  auto host = StartHost(opt.plugin);
  const pid_t pid = host->pid();
  json start = MemoryBreakdown(pid);
  Mount& m = TaskcredMount(*host, "EdDSA");
  json idle = MemoryBreakdown(pid, 12);
  // A working load: 2,000 requests of the kinds the cost rows drive
  // (issuance with both signers' roles, introspection).
  const int64_t load_pairs = opt.quick ? 200 : 1000;
  IssueAndIntrospect(m, load_pairs);
  json loaded = MemoryBreakdown(pid, 12);
  const double s1 = IssueAndIntrospect(m, opt.iterations);
  json batch1 = MemoryBreakdown(pid);
  const double s2 = IssueAndIntrospect(m, opt.iterations);
  json batch2 = MemoryBreakdown(pid, 12);

  std::printf("plugin: %s\n", opt.plugin.c_str());
  std::printf("VmRSS = RssAnon (heap, thread stacks, arenas) + RssFile (mapped binary and shared libraries);\n"
              "private = pages mapped by this process only (Private_Clean + Private_Dirty); MiB\n");
  std::printf("%-34s %7s %7s %7s %7s %7s %7s\n", "state", "VmRSS", "anon", "file", "private", "Pss", "threads");
  auto line = [](const std::string& label, const json& j) {
    std::printf("%-34s %7.1f %7.1f %7.1f %7.1f %7.1f %7lld\n", label.c_str(), MiB(j, "VmRSS"), MiB(j, "RssAnon"),
                MiB(j, "RssFile"), PrivateMiB(j), MiB(j, "Pss"), static_cast<long long>(j.value("Threads", int64_t{0})));
  };
  const std::string n = std::to_string(opt.iterations);
  line("at start (handshake, no mount)", start);
  line("idle (mounted, configured)", idle);
  line("after load (" + std::to_string(load_pairs) + " issue+introspect)", loaded);
  line("after " + n + " more", batch1);
  line("after another " + n, batch2);
  const double rss_idle = MiB(idle, "VmRSS"), rss_loaded = MiB(loaded, "VmRSS");
  const double rss1 = MiB(batch1, "VmRSS"), rss2 = MiB(batch2, "VmRSS");
  std::printf("idle %.1f MiB, after load %.1f MiB   goal <= 10 MiB (release binary): %s\n", rss_idle, rss_loaded,
              rss_idle <= 10 && rss_loaded <= 10 ? "met" : "MISSED");
  std::printf("after %s: %.1f MiB   goal <= 40 MiB: %s  (%.1f s)\n", n.c_str(), rss1, rss1 <= 40 ? "met" : "MISSED", s1);
  std::printf("after another %s: %.1f MiB   growth %+.2f MiB (%.1f bytes/credential)  (%.1f s)\n", n.c_str(), rss2,
              rss2 - rss1, (rss2 - rss1) * 1024 * 1024 / static_cast<double>(opt.iterations), s2);
  std::printf("peak (VmHWM) %.1f MiB\n", MiB(batch2, "VmHWM"));
  std::printf("largest resident mappings after load (KiB):");
  for (const auto& t : loaded["top_mappings"]) {
    std::printf(" %s %lld,", t["mapping"].get<std::string>().c_str(),
                static_cast<long long>(t["rss_kib"].get<int64_t>()));
  }
  std::printf("\n");
  return {{"plugin", opt.plugin},
          {"start", start},
          {"idle", idle},
          {"after_load", loaded},
          {"load_pairs", load_pairs},
          {"after_batch1", batch1},
          {"after_batch2", batch2},
          {"iterations", opt.iterations},
          {"batch1_seconds", s1},
          {"batch2_seconds", s2},
          {"growth_bytes_per_credential", (rss2 - rss1) * 1024 * 1024 / static_cast<double>(opt.iterations)}};
}

}  // namespace taskcred::bench
