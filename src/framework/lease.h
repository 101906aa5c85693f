// Lease TTL math, as Vault's framework.CalculateTTL.
//
// Bounds a requested TTL by the role (backend) TTL/max TTL, the mount's
// default and max lease TTL (from the SystemView) and an explicit max TTL,
// measured from the lease's start time. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"
#include "logical/system_view.h"

namespace taskcred::framework {

struct TTLInputs {
  std::chrono::nanoseconds mount_default_ttl{0};       // SystemView::DefaultLeaseTTL
  std::chrono::nanoseconds mount_max_ttl{0};           // SystemView::MaxLeaseTTL
  std::chrono::nanoseconds increment{0};               // asked for on renew (0 = none)
  std::chrono::nanoseconds backend_ttl{0};             // the role's TTL (0 = none)
  std::chrono::nanoseconds period{0};                  // periodic lease (0 = not periodic)
  std::chrono::nanoseconds backend_max_ttl{0};         // the role's max TTL (0 = none)
  std::chrono::nanoseconds explicit_max_ttl{0};        // (0 = none)
  std::chrono::system_clock::time_point start_time{};  // lease issue time; epoch = now
  std::chrono::system_clock::time_point now{};         // epoch = system_clock::now()
};

struct TTLResult {
  std::chrono::nanoseconds ttl{0};
  std::vector<std::string> warnings{};  // Vault's "... capped accordingly" texts
};

// Go's CalculateTTL. Errors: Internal "max TTL must be greater than zero";
// InvalidArgument "past the max TTL, cannot renew".
common::Result<TTLResult> CalculateTTL(const TTLInputs& in);

// Same, with mount_default_ttl/mount_max_ttl read from `system_view`
// (its error is returned as is). `in.mount_*` are ignored.
common::Result<TTLResult> CalculateTTL(logical::SystemView& system_view, TTLInputs in);

// Go's humanDuration: time.Duration.String() without trailing "0s"/"0m"
// ("1h0m0s" -> "1h", "1m30s", "0s").
std::string HumanDuration(std::chrono::nanoseconds d);
// Go's time.Duration.String() ("1h30m0s", "1.5s", "300ms", "0s").
std::string GoDurationString(std::chrono::nanoseconds d);

}  // namespace taskcred::framework
