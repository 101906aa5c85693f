// taskcred-bench --large-bodies (issue 15): what request bodies of several
// megabytes do to the plugin's memory. Like Vault, each write is sent twice
// (the existence check, then the operation); a sampler reads the plugin's
// VmRSS every 2 ms. Prints RSS idle, at peak, and 5 s after the burst, once
// with bodies under the mount's request limit (max_request_bytes raised to
// take them) and once with the default limit (refused before they are read).
//
// Not a ctest: it measures and prints.
#pragma once

#include <string>

#include "bench_util.h"

namespace taskcred::bench {

struct LargeBodyOptions {
  std::string plugin;
  int count = 20;     // bodies per burst
  int megabytes = 10;  // size of each body
};

// 0 when every request was answered as expected.
int RunLargeBodies(const LargeBodyOptions& options);

}  // namespace taskcred::bench
