// PluginProcess: a plugin binary started the way go-plugin starts it.
//
// fork/exec with an explicit environment, stdout and stderr on pipes (both
// drained by reader threads for the life of the process), stdin on
// /dev/null. The first stdout line is the go-plugin handshake; everything
// the plugin writes is kept so tests can assert on it. The destructor
// SIGKILLs and reaps the process if it is still running.
//
// Thread-safe: all accessors may be called from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace taskcred::test {

using Env = std::vector<std::pair<std::string, std::string>>;

struct LaunchOptions {
  std::string binary;
  std::vector<std::string> args;  // argv[1..]
  // The child's whole environment (no inheritance), in order; a later entry
  // for the same key wins, as Go's os/exec does.
  Env env;
};

// How a process ended.
struct ExitInfo {
  bool exited = false;  // normal exit; `code` is valid
  int code = -1;
  int signal = 0;  // set when killed by a signal
  std::string ToString() const;
};

class PluginProcess {
 public:
  static common::Result<std::unique_ptr<PluginProcess>> Launch(const LaunchOptions& options);
  ~PluginProcess();
  PluginProcess(const PluginProcess&) = delete;
  PluginProcess& operator=(const PluginProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The first stdout line without its '\n'; waits at most `timeout`. Fails on
  // timeout or when stdout closed (process exited) before a full line.
  common::Result<std::string> WaitForFirstStdoutLine(std::chrono::milliseconds timeout);
  // Every byte read from stdout so far.
  std::string StdoutText() const;
  // Complete stderr lines so far (without '\n').
  std::vector<std::string> StderrLines() const;
  std::string StderrText() const;
  // Waits until some stderr line satisfies `pred`; returns that line.
  std::optional<std::string> WaitForStderrLine(const std::function<bool(const std::string&)>& pred,
                                               std::chrono::milliseconds timeout);

  // Waits for the process to end (reaping it); nullopt on timeout. Once it
  // returns a value, StdoutText/StderrLines hold everything the process wrote
  // (it also waits, at most 5 s, for the reader threads to see EOF).
  std::optional<ExitInfo> WaitExit(std::chrono::milliseconds timeout);
  // Waits (at most 5 s) for the reader threads to see EOF on both pipes.
  void WaitOutputClosed();
  bool Running();
  void Signal(int sig);
  void Kill();  // SIGKILL, does not wait

 private:
  PluginProcess() = default;
  void ReadLoop(int fd, bool is_stdout);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<ExitInfo> exit_;
  std::mutex wait_mu_;  // serialises reaping

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string stdout_;
  std::string stderr_partial_;
  std::vector<std::string> stderr_lines_;
  bool stdout_closed_ = false;
  bool stderr_closed_ = false;
  std::thread stdout_thread_;
  std::thread stderr_thread_;
};

// Builds an execve-style environment from `env` (later keys win).
std::vector<std::string> FlattenEnv(const Env& env);

// argv/envp for execve, prepared before fork (only async-signal-safe calls
// are allowed in the child of a threaded process). Not copyable: the
// pointers refer into the owned strings.
struct ExecVectors {
  explicit ExecVectors(const LaunchOptions& options);
  ExecVectors(const ExecVectors&) = delete;
  ExecVectors& operator=(const ExecVectors&) = delete;
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;
};

ExitInfo ExitInfoFromWaitStatus(int wait_status);

}  // namespace taskcred::test
