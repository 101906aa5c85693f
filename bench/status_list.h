// taskcred-bench --status-list (issue 13): the Token Status List at scale.
// Issues N credentials (100,000 by default) through the real plugin, revokes
// a share of them, then reads every list as a verifier would and prints its
// size on the wire and the bits set (checked against the revocations), what
// serving a cached list costs the plugin (CPU per request, saturated and at
// 2000/s) and how long a re-signing read of a changed list takes.
//
// Not a ctest: it measures and prints.
#pragma once

#include <string>

#include "bench_util.h"

namespace taskcred::bench {

struct StatusListBenchOptions {
  std::string plugin;
  int64_t credentials = 100000;
  double revoked_percent = 1.0;
};

// 0 when every request was answered and every bit matched.
int RunStatusListBench(const StatusListBenchOptions& options);

}  // namespace taskcred::bench
