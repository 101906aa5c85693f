#include "engine/clock.h"

#include <ctime>
#include <string>

namespace taskcred::engine {

Clock SystemClock() {
  return [] { return std::chrono::system_clock::now(); };
}

int64_t UnixSeconds(TimePoint t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

TimePoint FromUnixSeconds(int64_t seconds) { return TimePoint(std::chrono::seconds(seconds)); }

std::string Rfc3339(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

}  // namespace taskcred::engine
