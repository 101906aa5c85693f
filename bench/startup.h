// taskcred-bench's start-up section: exec of the plugin to its handshake
// line, AutoMTLS key generation included, over opt.launches launches.
//
// Measured first, while the bench process is small: the harness launches
// with fork(), whose page-table copy grows with the launcher's memory.
// Measured after the memory phase (the launcher then holds 200,000 stored
// records) the median was 34.6 ms, against 16.5 ms in a --quick run minutes
// later. Vault starts plugins from Go (clone with CLONE_VFORK), which copies
// nothing.
#pragma once

#include "bench_util.h"

namespace taskcred::bench {

// Prints the figures; returns them (launches, median_ms, samples_ms,
// launcher_rss_mib).
json MeasureStartup(const Options& opt);

}  // namespace taskcred::bench
