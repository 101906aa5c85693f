// taskcred-bench --train: drives a plugin binary through what a serving
// plugin spends its time on (issuance with each signer, introspection plain,
// checked and consuming, release, lease renewal and revocation, reads of
// config, roles and tasks), so that a profile recorded in that binary, e.g.
// by BOLT's instrumentation (scripts/bolt_plugin.sh), describes the code a
// running plugin uses. Prints one line per mount; no figures.
#pragma once

#include <cstdint>
#include <string>

namespace taskcred::bench {

struct TrainOptions {
  std::string plugin;
  int64_t requests = 3000;  // per mount, over 8 callers
};

// 0 when every request answered as expected, 1 otherwise (the profile of a
// run that failed describes the wrong code).
int RunTraining(const TrainOptions& options);

}  // namespace taskcred::bench
