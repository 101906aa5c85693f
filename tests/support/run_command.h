// Runs a shell command and collects what it prints: for tests that drive a
// script, a binary's --version or an independent implementation (python3).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace taskcred::test {

struct CommandRun {
  int exit_code = -1;  // -1: could not start, or ended by a signal
  std::string output;  // stdout (add 2>&1 to the command for stderr)
};

inline CommandRun RunCommand(const std::string& command) {
  CommandRun r;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace taskcred::test
