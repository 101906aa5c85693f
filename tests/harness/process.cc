#include "harness/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace taskcred::test {
namespace {

using common::Result;
using common::Status;

std::string Errno(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

ExitInfo ExitInfoFromWaitStatus(int status) {
  ExitInfo info;
  if (WIFEXITED(status)) {
    info.exited = true;
    info.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    info.signal = WTERMSIG(status);
  }
  return info;
}

ExecVectors::ExecVectors(const LaunchOptions& options) {
  argv_storage.push_back(options.binary);
  argv_storage.insert(argv_storage.end(), options.args.begin(), options.args.end());
  env_storage = FlattenEnv(options.env);
  for (auto& s : argv_storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_storage) envp.push_back(s.data());
  envp.push_back(nullptr);
}

std::string ExitInfo::ToString() const {
  if (exited) return "exit code " + std::to_string(code);
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  return "unknown exit";
}

std::vector<std::string> FlattenEnv(const Env& env) {
  std::map<std::string, size_t> index;
  std::vector<std::string> out;
  for (const auto& [key, value] : env) {
    std::string entry = key + "=" + value;
    auto it = index.find(key);
    if (it != index.end()) {
      out[it->second] = std::move(entry);
    } else {
      index.emplace(key, out.size());
      out.push_back(std::move(entry));
    }
  }
  return out;
}

Result<std::unique_ptr<PluginProcess>> PluginProcess::Launch(const LaunchOptions& options) {
  if (options.binary.empty()) return Status::InvalidArgument("plugin binary path is empty");
  if (access(options.binary.c_str(), X_OK) != 0) return Status::InvalidArgument(Errno("plugin binary " + options.binary));

  // Everything the child needs is prepared before fork: after fork only
  // async-signal-safe calls are allowed (the test process has threads).
  ExecVectors exec(options);

  int out[2], err[2], exec_err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Status::Internal(Errno("pipe"));
  if (pipe2(err, O_CLOEXEC) != 0) return Status::Internal(Errno("pipe"));
  if (pipe2(exec_err, O_CLOEXEC) != 0) return Status::Internal(Errno("pipe"));
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) return Status::Internal(Errno("open /dev/null"));

  pid_t pid = fork();
  if (pid < 0) return Status::Internal(Errno("fork"));
  if (pid == 0) {
    dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execve(exec.argv[0], exec.argv.data(), exec.envp.data());
    int e = errno;
    (void)!write(exec_err[1], &e, sizeof e);
    _exit(127);
  }
  close(devnull);
  close(out[1]);
  close(err[1]);
  close(exec_err[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(exec_err[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(exec_err[0]);

  std::unique_ptr<PluginProcess> p(new PluginProcess());
  p->pid_ = pid;
  p->pidfd_ = PidfdOpen(pid);
  p->stdout_thread_ = std::thread([raw = p.get(), fd = out[0]] { raw->ReadLoop(fd, true); });
  p->stderr_thread_ = std::thread([raw = p.get(), fd = err[0]] { raw->ReadLoop(fd, false); });
  if (n > 0) {
    (void)p->WaitExit(std::chrono::seconds(5));
    return Status::Internal("execve " + options.binary + ": " + std::strerror(child_errno));
  }
  return p;
}

PluginProcess::~PluginProcess() {
  if (!WaitExit(std::chrono::milliseconds(0)).has_value()) {
    Kill();
    (void)WaitExit(std::chrono::seconds(10));
  }
  if (stdout_thread_.joinable()) stdout_thread_.join();
  if (stderr_thread_.joinable()) stderr_thread_.join();
  if (pidfd_ >= 0) close(pidfd_);
}

void PluginProcess::ReadLoop(int fd, bool is_stdout) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (n <= 0) {
      if (is_stdout) {
        stdout_closed_ = true;
      } else {
        if (!stderr_partial_.empty()) stderr_lines_.push_back(std::move(stderr_partial_));
        stderr_partial_.clear();
        stderr_closed_ = true;
      }
      cv_.notify_all();
      break;
    }
    if (is_stdout) {
      stdout_.append(buf, static_cast<size_t>(n));
    } else {
      stderr_partial_.append(buf, static_cast<size_t>(n));
      size_t pos;
      while ((pos = stderr_partial_.find('\n')) != std::string::npos) {
        stderr_lines_.push_back(stderr_partial_.substr(0, pos));
        stderr_partial_.erase(0, pos + 1);
      }
    }
    cv_.notify_all();
  }
  close(fd);
}

Result<std::string> PluginProcess::WaitForFirstStdoutLine(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  bool done = cv_.wait_for(lock, timeout, [&] { return stdout_.find('\n') != std::string::npos || stdout_closed_; });
  size_t pos = stdout_.find('\n');
  if (pos != std::string::npos) return stdout_.substr(0, pos);
  if (!done) return Status::DeadlineExceeded("no handshake line on stdout within " + std::to_string(timeout.count()) + " ms");
  return Status::Unavailable("plugin closed stdout before a handshake line (stdout: '" + stdout_ + "')");
}

std::string PluginProcess::StdoutText() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stdout_;
}

std::vector<std::string> PluginProcess::StderrLines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stderr_lines_;
}

std::string PluginProcess::StderrText() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string all;
  for (const auto& l : stderr_lines_) all += l + "\n";
  return all + stderr_partial_;
}

std::optional<std::string> PluginProcess::WaitForStderrLine(const std::function<bool(const std::string&)>& pred,
                                                            std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  size_t checked = 0;
  std::optional<std::string> found;
  auto scan = [&] {
    for (; checked < stderr_lines_.size(); ++checked) {
      if (pred(stderr_lines_[checked])) {
        found = stderr_lines_[checked];
        return true;
      }
    }
    return stderr_closed_;
  };
  cv_.wait_for(lock, timeout, scan);
  return found;
}

std::optional<ExitInfo> PluginProcess::WaitExit(std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(wait_mu_);
  if (exit_) return exit_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_ = ExitInfoFromWaitStatus(status);
      // The reader threads may not have drained the pipes yet; callers read
      // StderrText right after WaitExit, so finish the output first (bounded,
      // in case a grandchild still holds the pipe).
      WaitOutputClosed();
      return exit_;
    }
    if (r < 0 && errno != EINTR) {
      exit_ = ExitInfo{};  // not our child any more (should not happen)
      return exit_;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (pidfd_ >= 0) {
      pollfd pfd{pidfd_, POLLIN, 0};
      (void)poll(&pfd, 1, static_cast<int>(left.count()));
    } else {
      usleep(5000);  // no pidfd (old kernel): poll the status
    }
  }
}

void PluginProcess::WaitOutputClosed() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(5), [&] { return stdout_closed_ && stderr_closed_; });
}

bool PluginProcess::Running() { return !WaitExit(std::chrono::milliseconds(0)).has_value(); }

void PluginProcess::Signal(int sig) {
  std::lock_guard<std::mutex> lock(wait_mu_);
  if (!exit_) kill(pid_, sig);
}

void PluginProcess::Kill() { Signal(SIGKILL); }

}  // namespace taskcred::test
