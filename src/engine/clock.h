// Clock: where the engine reads "now".
//
// Every time-dependent decision (expiry, rotation, pruning, tidy) goes through
// a Clock so tests can move time without sleeping. A Clock is a plain
// std::function; SystemClock() reads std::chrono::system_clock. Whoever
// installs a Clock must make it safe to call from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace taskcred::engine {

using TimePoint = std::chrono::system_clock::time_point;
using Clock = std::function<TimePoint()>;

// The wall clock.
Clock SystemClock();

// Whole seconds since the Unix epoch (truncated toward negative infinity).
int64_t UnixSeconds(TimePoint t);
TimePoint FromUnixSeconds(int64_t seconds);

// RFC 3339 UTC with second precision: "2026-11-28T17:20:00Z".
std::string Rfc3339(int64_t unix_seconds);

}  // namespace taskcred::engine
