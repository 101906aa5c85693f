// About the binary: what `--version` and `--help` print. Both are answered
// before the magic-cookie check, so an operator can ask a plugin binary what
// it is (which build, which gRPC and OpenSSL it carries, static or not)
// without a Vault server.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/serve.h"

namespace taskcred::runtime {

// "<name> <version>", the commit, how it is linked and the versions of the
// libraries built in, one per line.
std::string VersionText(const ServeOptions& opts);

// What the binary is, how Vault runs it, and the flags and environment it
// reads.
std::string UsageText(const ServeOptions& opts);

// When `args` (argv without the program) ask for --version or --help (one
// or two dashes; -h), the text to print on stdout; otherwise std::nullopt.
// Only the arguments before a "--" count.
std::optional<std::string> AboutRequest(const std::vector<std::string>& args, const ServeOptions& opts);

}  // namespace taskcred::runtime
