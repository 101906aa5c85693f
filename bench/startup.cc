#include "startup.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "harness/certs.h"
#include "harness/process.h"

namespace taskcred::bench {

json MeasureStartup(const Options& opt) {
  std::printf("\n== start-up: exec -> handshake line (AutoMTLS key generation included) ==\n");
  auto cert = taskcred::test::GenerateAutoMtlsCert();
  if (!cert.ok()) Die("host cert: " + cert.status().ToString());
  taskcred::test::HostOptions ho;
  ho.binary = opt.plugin;
  taskcred::test::LaunchOptions lo;
  lo.binary = opt.plugin;
  lo.env = taskcred::test::BaseHostEnv(ho);
  lo.env.emplace_back("PLUGIN_CLIENT_CERT", cert->cert_pem);
  lo.env.emplace_back("VAULT_PLUGIN_AUTOMTLS_ENABLED", "true");
  lo.env.emplace_back("BAO_PLUGIN_AUTOMTLS_ENABLED", "true");
  std::vector<double> ms;
  for (int i = 0; i < opt.launches; ++i) {
    auto t0 = SteadyClock::now();
    auto proc = taskcred::test::PluginProcess::Launch(lo);
    if (!proc.ok()) Die("launch: " + proc.status().ToString());
    auto line = (*proc)->WaitForFirstStdoutLine(std::chrono::seconds(10));
    auto t1 = SteadyClock::now();
    if (!line.ok()) Die("no handshake line: " + (*proc)->StderrText());
    if (line->find("|grpc|") == std::string::npos) Die("unexpected handshake line");
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    (*proc)->Kill();
    (*proc)->WaitExit(std::chrono::seconds(5));
  }
  double med = Median(ms);
  const double launcher_mib = double(VmRssKiB(getpid())) / 1024.0;
  std::printf("median of %d launches: %.1f ms (min %.1f, max %.1f)   goal <= 20 ms: %s   (launcher RSS %.1f MiB)\n",
              opt.launches, med, *std::min_element(ms.begin(), ms.end()), *std::max_element(ms.begin(), ms.end()),
              med <= 20 ? "met" : "MISSED", launcher_mib);
  return {{"launches", opt.launches}, {"median_ms", med}, {"samples_ms", ms}, {"launcher_rss_mib", launcher_mib}};
}

}  // namespace taskcred::bench
