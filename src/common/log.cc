#include "common/log.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace taskcred::common {
namespace {

// go-plugin reads stderr with a 64 KiB line buffer; stay well below it.
constexpr size_t kMaxLineBytes = 60 * 1024;

class StderrSink final : public LogSink {
 public:
  void Write(std::string_view line) override {
    std::lock_guard<std::mutex> lock(mu_);
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // nothing sensible to do if stderr is gone
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }

 private:
  std::mutex mu_;
};

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "info";
}

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "trace") return LogLevel::kTrace;
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warn" || lower == "warning") return LogLevel::kWarn;
  if (lower == "error" || lower == "err") return LogLevel::kError;
  if (lower == "off") return LogLevel::kOff;
  return std::nullopt;
}

std::string HclogTimestampNow() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(us % 1000000));
  return buf;
}

Logger::Logger(std::string module, LogLevel level)
    : Logger(std::move(module), level, std::make_shared<StderrSink>()) {}

Logger::Logger(std::string module, LogLevel level, std::shared_ptr<LogSink> sink)
    : module_(std::move(module)), state_(std::make_shared<State>()) {
  state_->level.store(level);
  state_->sink = std::move(sink);
}

Logger Logger::Named(std::string_view sub) const {
  return Logger(module_.empty() ? std::string(sub) : module_ + "." + std::string(sub), state_);
}

std::string Logger::Format(LogLevel level, std::string_view message, const LogFields& fields) const {
  nlohmann::ordered_json entry;
  entry["@level"] = std::string(LogLevelName(level));
  entry["@message"] = std::string(message);
  entry["@module"] = module_;
  entry["@timestamp"] = HclogTimestampNow();
  for (const auto& [key, value] : fields) {
    if (key.empty() || key[0] == '@') continue;  // reserved keys stay ours
    entry[key] = value;
  }
  // Invalid UTF-8 in a message or field must not throw: replace it.
  std::string line = entry.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  if (line.size() > kMaxLineBytes) {
    nlohmann::ordered_json cut;
    cut["@level"] = std::string(LogLevelName(level));
    cut["@message"] = std::string(message.substr(0, 1024));
    cut["@module"] = module_;
    cut["@timestamp"] = entry["@timestamp"];
    cut["truncated"] = true;
    line = cut.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  line.push_back('\n');
  return line;
}

void Logger::Log(LogLevel level, std::string_view message, const LogFields& fields) const {
  if (!Enabled(level)) return;
  state_->sink->Write(Format(level, message, fields));
}

}  // namespace taskcred::common
