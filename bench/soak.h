// The soak of taskcred-bench --soak (issue 11): callers issue, introspect,
// consume, release and revoke credentials through the host harness while the
// plugin process is SIGKILLed and restarted over the same storage, as Vault
// restarts a crashed plugin. Afterwards, on the last process, it checks the
// invariants: no plugin died of anything but our SIGKILL, no issued task
// lost its record, no revoked, released or used-up credential was ever (or
// is at the end) introspected active, and no credential answered active to
// more consumes than its max_uses (nor has more uses recorded).
//
// Not a ctest: it runs for restarts x interval and measures nothing.
#pragma once

#include <string>

#include "bench_util.h"

namespace taskcred::bench {

struct SoakOptions {
  std::string plugin;
  int callers = 8;
  int restarts = 20;
  int interval_ms = 1500;  // between kills
};

// Prints progress and a summary; 0 when every invariant held.
int RunSoak(const SoakOptions& options);

}  // namespace taskcred::bench
