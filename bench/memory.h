// taskcred-bench's memory section: the plugin process's VmRSS (the figure
// operators and container limits see) and its parts, at start, idle with a
// mount, after a working load (issue 12: <= 10 MiB idle and after load for
// the release binary), and across two large batches of issuance +
// introspection (growth per stored credential).
#pragma once

#include "bench_util.h"

namespace taskcred::bench {

// Prints the figures; returns them.
json MeasureMemory(const Options& opt);

}  // namespace taskcred::bench
