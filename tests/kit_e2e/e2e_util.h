// Helpers of the kit end-to-end tests: a temporary directory, a minimal
// raw-socket HTTP/1.1 client, the taskcred-authz sidecar and Debian's nginx
// as child processes (tests/harness/process.h), and rendering of
// examples/nginx/taskcred.conf.in.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "harness/process.h"

namespace taskcred::test::e2e {

// mkdtemp under $TMPDIR (or /tmp), mode 0755 so that nginx workers (which
// drop to `nobody` when the test runs as root) can read it. Removed
// recursively by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name (mode 0644; parent directories are
  // created 0755); returns the full path.
  std::string Write(const std::string& name, const std::string& content) const;
  std::string Mkdir(const std::string& name) const;

 private:
  std::string path_;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  int status = 0;  // 0: no parsable status line (see error)
  std::map<std::string, std::string> headers;  // lowercase names; last wins
  std::string body;
  std::string raw;
  std::string error;  // connect/read failure
};

// One request on a fresh connection to 127.0.0.1:port with
// "Connection: close"; reads until EOF (at most `timeout`).
HttpReply HttpRequest(int port, const std::string& method, const std::string& target, const Headers& headers,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A loopback TCP port that was free a moment ago.
int FreePort();
// Connects to 127.0.0.1:port; -1 on failure.
int ConnectLoopback(int port);
bool SendAll(int fd, const std::string& data);
struct ReadResult {
  std::string data;
  bool eof = false;    // orderly close seen
  bool reset = false;  // ECONNRESET
  bool timed_out = false;
};
// Reads until EOF, reset or `timeout`.
ReadResult ReadUntilClosed(int fd, std::chrono::milliseconds timeout);

// The taskcred-authz under test: $TASKCRED_AUTHZ (e.g. a sanitizer build),
// else the one built with this test.
std::string AuthzPath();

// A running taskcred-authz with `args` plus --listen 127.0.0.1:0; the port
// is read from its "listening" log line.
class Sidecar {
 public:
  static common::Result<std::unique_ptr<Sidecar>> Start(const std::vector<std::string>& args);
  int port() const { return port_; }
  PluginProcess& process() { return *process_; }
  // The JSON log lines whose @message is "decision".
  std::vector<std::string> DecisionLines() const;

 private:
  std::unique_ptr<PluginProcess> process_;
  int port_ = 0;
};

// /usr/sbin/nginx, or $TASKCRED_NGINX; empty when not executable.
std::string NginxPath();

// Replaces every @NAME@ of `vars` in the template file; fails when the
// file is unreadable or a placeholder is left over.
common::Result<std::string> RenderTemplate(const std::string& template_path,
                                           const std::map<std::string, std::string>& vars);

// nginx with `conf` (a rendered taskcred.conf.in; @LISTEN@ must be
// 127.0.0.1:<port>) in prefix dir `prefix`, in the foreground
// ("daemon off;"); Start returns once the port accepts connections.
class Nginx {
 public:
  static common::Result<std::unique_ptr<Nginx>> Start(const std::string& binary, const std::string& prefix,
                                                      const std::string& conf, int port);
  ~Nginx();
  int port() const { return port_; }
  PluginProcess& process() { return *process_; }
  std::string ErrorLog() const;
  std::string AccessLog() const;

 private:
  std::unique_ptr<PluginProcess> process_;
  std::string prefix_;
  int port_ = 0;
};

std::string ReadFileOrEmpty(const std::string& path);

}  // namespace taskcred::test::e2e
