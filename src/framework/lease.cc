// Lease TTL math (Go's framework.CalculateTTL) and Go-style duration text.
#include "framework/lease.h"

#include <cstdint>
#include <string>

namespace taskcred::framework {

using common::Result;
using common::Status;
using std::chrono::nanoseconds;
using TimePoint = std::chrono::system_clock::time_point;

namespace {

TimePoint TruncateToSecond(TimePoint t) { return std::chrono::floor<std::chrono::seconds>(t); }

// Go's fmtFrac: v / 10^prec with trailing zeros (and a bare '.') dropped.
std::string FormatFraction(uint64_t v, int prec, uint64_t* whole) {
  std::string frac;
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    uint64_t digit = v % 10;
    print = print || digit != 0;
    if (print) frac.insert(frac.begin(), static_cast<char>('0' + digit));
    v /= 10;
  }
  *whole = v;
  return print ? "." + frac : std::string();
}

}  // namespace

std::string GoDurationString(nanoseconds d) {
  int64_t n = d.count();
  if (n == 0) return "0s";
  bool neg = n < 0;
  uint64_t u = neg ? static_cast<uint64_t>(-(n + 1)) + 1 : static_cast<uint64_t>(n);
  std::string out;
  if (u < 1000000000ull) {
    uint64_t whole = 0;
    if (u < 1000ull) {
      out = std::to_string(u) + "ns";
    } else if (u < 1000000ull) {
      std::string frac = FormatFraction(u, 3, &whole);
      out = std::to_string(whole) + frac + "\xc2\xb5s";
    } else {
      std::string frac = FormatFraction(u, 6, &whole);
      out = std::to_string(whole) + frac + "ms";
    }
  } else {
    uint64_t secs = 0;
    std::string frac = FormatFraction(u, 9, &secs);
    out = std::to_string(secs % 60) + frac + "s";
    uint64_t mins = secs / 60;
    if (mins > 0) {
      out = std::to_string(mins % 60) + "m" + out;
      uint64_t hours = mins / 60;
      if (hours > 0) out = std::to_string(hours) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

std::string HumanDuration(nanoseconds d) {
  if (d.count() == 0) return "0s";
  std::string s = GoDurationString(d);
  if (s.size() >= 3 && s.compare(s.size() - 3, 3, "m0s") == 0) s.resize(s.size() - 2);
  size_t idx = s.find("h0m");
  if (idx != std::string::npos && idx > 0) s = s.substr(0, idx + 1) + s.substr(idx + 3);
  return s;
}

Result<TTLResult> CalculateTTL(const TTLInputs& in) {
  TimePoint now = TruncateToSecond(in.now == TimePoint{} ? std::chrono::system_clock::now() : in.now);
  TimePoint start = in.start_time == TimePoint{} ? now : TruncateToSecond(in.start_time);

  nanoseconds max_ttl = in.mount_max_ttl;
  if (in.backend_max_ttl > nanoseconds(0) && in.backend_max_ttl < max_ttl) max_ttl = in.backend_max_ttl;
  if (in.explicit_max_ttl > nanoseconds(0) && in.explicit_max_ttl < max_ttl) max_ttl = in.explicit_max_ttl;
  if (max_ttl <= nanoseconds(0)) return Status::Internal("max TTL must be greater than zero");

  TTLResult result;
  std::optional<TimePoint> max_valid_time;
  if (in.period > nanoseconds(0)) {
    nanoseconds period = in.period;
    if (period > max_ttl) {
      result.warnings.push_back("period of \"" + HumanDuration(period) +
                                "\" exceeded the effective max_ttl of \"" + HumanDuration(max_ttl) +
                                "\"; period value is capped accordingly");
      period = max_ttl;
    }
    result.ttl = period;
    if (in.explicit_max_ttl > nanoseconds(0)) max_valid_time = start + in.explicit_max_ttl;
  } else {
    if (in.increment > nanoseconds(0)) {
      result.ttl = in.increment;
    } else if (in.backend_ttl > nanoseconds(0)) {
      result.ttl = in.backend_ttl;
    } else {
      result.ttl = in.mount_default_ttl;
    }
    max_valid_time = start + max_ttl;
  }

  if (max_valid_time) {
    nanoseconds max_valid_ttl = std::chrono::duration_cast<nanoseconds>(*max_valid_time - now);
    if (max_valid_ttl <= nanoseconds(0)) return Status::InvalidArgument("past the max TTL, cannot renew");
    if (max_valid_ttl - result.ttl < nanoseconds(0)) {
      result.warnings.push_back("TTL of \"" + HumanDuration(result.ttl) +
                                "\" exceeded the effective max_ttl of \"" + HumanDuration(max_valid_ttl) +
                                "\"; TTL value is capped accordingly");
      result.ttl = max_valid_ttl;
    }
  }
  return result;
}

Result<TTLResult> CalculateTTL(logical::SystemView& system_view, TTLInputs in) {
  TC_ASSIGN_OR_RETURN(logical::MountLeaseTTLs mount, system_view.LeaseTTLs());
  in.mount_default_ttl = mount.default_ttl;
  in.mount_max_ttl = mount.max_ttl;
  return CalculateTTL(in);
}

}  // namespace taskcred::framework
