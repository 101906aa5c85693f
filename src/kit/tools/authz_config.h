// taskcred-authz's command line: its usage text and its server settings
// (listen address, limits, timeouts, the external URL for DPoP), read from
// the flags. The verifier's own flags are tool_util.h's.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <set>
#include <string>

#include "common/status.h"
#include "kit/tools/tool_util.h"

namespace taskcred::kit::tools {

extern const char kAuthzUsage[];

struct AuthzConfig {
  std::string host;
  std::string port;
  int threads = 4;
  size_t max_header_bytes = 32 * 1024;
  size_t max_body_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_timeout{10000};
  size_t max_connections = 1024;
  std::chrono::milliseconds shutdown_grace{10000};
  // Base URL clients address (e.g. https://files.example): with the
  // X-Original-URI header, the URL a DPoP proof's htu must name.
  std::string external_url;
};

// Every flag that takes a value: the verifier's and the server's.
std::set<std::string> AuthzValueFlags();
// The server settings; kInvalidArgument naming the flag and its rule.
common::Result<AuthzConfig> AuthzConfigFromFlags(const ParsedFlags& flags);

}  // namespace taskcred::kit::tools
