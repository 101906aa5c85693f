// Logger: hclog-compatible JSON lines on stderr.
//
// Each entry is one JSON object on one line, written with a single write(2):
// {"@level":"info","@message":"...","@module":"taskcred.engine","@timestamp":
// "2026-11-28T12:00:00.123456Z", <fields>}. The host (go-plugin) parses these
// and forwards them into Vault's log; @level/@message/@timestamp must always
// be strings (a non-string crashes the host's log reader). Lines are capped
// below the host's 64 KiB line buffer.
//
// Never pass a secret (credential, key, token) as a message or field.
//
// Thread-safe. A Logger is a cheap handle (module name + shared sink); Named()
// derives a sub-module logger that shares the sink and level.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace taskcred::common {

enum class LogLevel { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

std::string_view LogLevelName(LogLevel level);
// Parses "trace", "debug", "info", "warn"/"warning", "error", "off" (any case).
std::optional<LogLevel> ParseLogLevel(std::string_view text);

using LogFields = std::vector<std::pair<std::string, nlohmann::json>>;

// Where formatted lines go. The default sink writes to fd 2.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(std::string_view line) = 0;
};

class Logger {
 public:
  // A logger writing to stderr at `level`.
  explicit Logger(std::string module = "taskcred", LogLevel level = LogLevel::kInfo);
  Logger(std::string module, LogLevel level, std::shared_ptr<LogSink> sink);

  Logger Named(std::string_view sub) const;

  void SetLevel(LogLevel level) { state_->level.store(level); }
  LogLevel level() const { return state_->level.load(); }
  bool Enabled(LogLevel level) const { return level >= this->level() && level != LogLevel::kOff; }

  void Log(LogLevel level, std::string_view message, const LogFields& fields = {}) const;
  void Trace(std::string_view m, const LogFields& f = {}) const { Log(LogLevel::kTrace, m, f); }
  void Debug(std::string_view m, const LogFields& f = {}) const { Log(LogLevel::kDebug, m, f); }
  void Info(std::string_view m, const LogFields& f = {}) const { Log(LogLevel::kInfo, m, f); }
  void Warn(std::string_view m, const LogFields& f = {}) const { Log(LogLevel::kWarn, m, f); }
  void Error(std::string_view m, const LogFields& f = {}) const { Log(LogLevel::kError, m, f); }

  // Formats one entry (exposed for tests).
  std::string Format(LogLevel level, std::string_view message, const LogFields& fields) const;

 private:
  struct State {
    std::atomic<LogLevel> level;
    std::shared_ptr<LogSink> sink;
  };
  Logger(std::string module, std::shared_ptr<State> state) : module_(std::move(module)), state_(std::move(state)) {}

  std::string module_;
  std::shared_ptr<State> state_;
};

// Microsecond UTC timestamp in hclog's layout: 2006-01-02T15:04:05.000000Z.
std::string HclogTimestampNow();

}  // namespace taskcred::common
