#include "large_bodies.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

namespace taskcred::bench {
namespace {

double MiB(int64_t kib) { return static_cast<double>(kib) / 1024.0; }

struct Burst {
  int64_t idle = 0, peak = 0, after = 0;  // KiB
  int answered = 0, refused_413 = 0, refused_400 = 0, other = 0;
};

// Sends `count` config writes with a `bytes`-sized body (an ignored field:
// accepted with a warning when within the limit), each after its existence
// check as Vault does, sampling RSS throughout and 5 s after.
Burst RunBurst(PluginHost& host, Mount& m, int count, size_t bytes) {
  Burst b;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  b.idle = VmRssKiB(host.pid());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> peak{b.idle};
  std::thread sampler([&] {
    while (!stop.load()) {
      int64_t r = VmRssKiB(host.pid());
      if (r > peak.load()) peak = r;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  RequestSpec spec;
  spec.operation = "update";
  spec.path = "config";
  spec.mount_point = "taskcred/";
  spec.entity_id = "bench-entity";
  spec.deadline = std::chrono::seconds(60);
  spec.data = json{{"issuer", kIssuer}, {"padding", std::string(bytes, 'a')}};
  for (int i = 0; i < count; ++i) {
    (void)m.HandleExistenceCheck(spec);
    RequestResult r = m.HandleRequest(spec);
    if (!r.status.ok()) {
      ++b.other;
    } else if (r.http_status == 413) {
      ++b.refused_413;
    } else if (r.http_status == 400) {
      ++b.refused_400;
    } else if (r.http_status == 200 || r.http_status == 204) {
      ++b.answered;
    } else {
      ++b.other;
    }
  }
  stop = true;
  sampler.join();
  b.peak = std::max(peak.load(), VmRssKiB(host.pid()));
  std::this_thread::sleep_for(std::chrono::seconds(5));
  b.after = VmRssKiB(host.pid());
  return b;
}

void Print(const std::string& name, const Burst& b) {
  std::printf("%-34s idle %6.1f MiB  peak %6.1f MiB  5 s after %6.1f MiB (%.2fx idle)  "
              "answers: %d ok, %d 400, %d 413, %d other\n",
              name.c_str(), MiB(b.idle), MiB(b.peak), MiB(b.after),
              b.idle > 0 ? static_cast<double>(b.after) / static_cast<double>(b.idle) : 0.0, b.answered,
              b.refused_400, b.refused_413, b.other);
}

}  // namespace

int RunLargeBodies(const LargeBodyOptions& o) {
  const size_t bytes = static_cast<size_t>(o.megabytes) * 1000 * 1000;
  std::printf("large request bodies: %d x %d MB config writes (existence check + update each)\n", o.count,
              o.megabytes);
  int rc = 0;
  {
    auto host = StartHost(o.plugin);
    Mount& m = NewMount(*host);
    // Bodies within the limit: the mount takes up to 32 MiB, as Vault does.
    RequestResult set = Call(m, "update", "config", json{{"issuer", kIssuer}, {"max_request_bytes", 33554432}});
    if (!Ok(set, "config max_request_bytes")) std::printf("(max_request_bytes not accepted: default limit)\n");
    Burst b = RunBurst(*host, m, o.count, bytes);
    Print("under the limit (32 MiB)", b);
    if (b.other > 0) rc = 1;
  }
  {
    auto host = StartHost(o.plugin);
    Mount& m = NewMount(*host);
    MustCall(m, "update", "config", json{{"issuer", kIssuer}});
    Burst b = RunBurst(*host, m, o.count, bytes);
    Print("over the default limit", b);
    if (b.other > 0) rc = 1;
  }
  return rc;
}

}  // namespace taskcred::bench
