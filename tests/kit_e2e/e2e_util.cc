#include "e2e_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

namespace taskcred::test::e2e {

using common::Status;
using nlohmann::json;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/taskcred-e2e-XXXXXX";
  if (mkdtemp(pattern.data()) != nullptr) {
    path_ = pattern;
    ::chmod(path_.c_str(), 0755);
  }
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Mkdir(const std::string& name) const {
  std::string full = path_ + "/" + name;
  std::error_code ec;
  std::filesystem::create_directories(full, ec);
  ::chmod(full.c_str(), 0755);
  return full;
}

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  std::string full = path_ + "/" + name;
  auto parent = std::filesystem::path(full).parent_path();
  if (parent != std::filesystem::path(path_)) Mkdir(parent.lexically_relative(path_).string());
  std::ofstream out(full, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  ::chmod(full.c_str(), 0644);
  return full;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

ReadResult ReadUntilClosed(int fd, std::chrono::milliseconds timeout) {
  ReadResult r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[8192];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      return r;
    }
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) {
      r.timed_out = true;
      return r;
    }
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.reset = errno == ECONNRESET;
      return r;
    }
    if (n == 0) {
      r.eof = true;
      return r;
    }
    r.data.append(buf, static_cast<size_t>(n));
  }
}

namespace {

void ParseReply(HttpReply& reply) {
  size_t head_end = reply.raw.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    reply.error = "no complete response head";
    return;
  }
  std::istringstream head(reply.raw.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) {
    reply.error = "bad status line: " + line;
    return;
  }
  reply.status = std::atoi(line.substr(9, 3).c_str());
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    reply.headers[name] = value;
  }
  reply.body = reply.raw.substr(head_end + 4);
}

}  // namespace

HttpReply HttpRequest(int port, const std::string& method, const std::string& target, const Headers& headers,
                      std::chrono::milliseconds timeout) {
  HttpReply reply;
  int fd = ConnectLoopback(port);
  if (fd < 0) {
    reply.error = "connect to port " + std::to_string(port) + " failed";
    return reply;
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  if (!SendAll(fd, req)) {
    ::close(fd);
    reply.error = "send failed";
    return reply;
  }
  ReadResult r = ReadUntilClosed(fd, timeout);
  ::close(fd);
  reply.raw = std::move(r.data);
  if (r.timed_out) reply.error = "timed out";
  ParseReply(reply);
  return reply;
}

std::string AuthzPath() {
  const char* env = std::getenv("TASKCRED_AUTHZ");
  return env != nullptr && *env != '\0' ? env : TASKCRED_E2E_AUTHZ;
}

common::Result<std::unique_ptr<Sidecar>> Sidecar::Start(const std::vector<std::string>& args) {
  LaunchOptions options;
  options.binary = AuthzPath();
  options.args = args;
  options.args.insert(options.args.end(), {"--listen", "127.0.0.1:0"});
  const char* path = std::getenv("PATH");
  options.env = {{"PATH", path != nullptr ? path : "/usr/bin:/bin"}};
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* v = std::getenv(name)) options.env.emplace_back(name, v);
  }
  auto process = PluginProcess::Launch(options);
  if (!process.ok()) return process.status();
  auto sidecar = std::unique_ptr<Sidecar>(new Sidecar());
  sidecar->process_ = std::move(process).value();
  auto line = sidecar->process_->WaitForStderrLine(
      [](const std::string& l) { return l.find("\"@message\":\"listening\"") != std::string::npos; },
      std::chrono::seconds(10));
  if (!line) {
    return Status::Internal("taskcred-authz did not log \"listening\"; stderr: " + sidecar->process_->StderrText());
  }
  json j = json::parse(*line, nullptr, false);
  std::string addr = j.is_object() && j.contains("addr") && j["addr"].is_string() ? j["addr"].get<std::string>() : "";
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return Status::Internal("no addr in the listening line: " + *line);
  sidecar->port_ = std::atoi(addr.substr(colon + 1).c_str());
  if (sidecar->port_ <= 0) return Status::Internal("bad addr in the listening line: " + *line);
  return sidecar;
}

std::vector<std::string> Sidecar::DecisionLines() const {
  std::vector<std::string> out;
  for (const std::string& l : process_->StderrLines()) {
    if (l.find("\"@message\":\"decision\"") != std::string::npos) out.push_back(l);
  }
  return out;
}

std::string NginxPath() {
  const char* env = std::getenv("TASKCRED_NGINX");
  std::string path = env != nullptr && *env != '\0' ? env : "/usr/sbin/nginx";
  return ::access(path.c_str(), X_OK) == 0 ? path : "";
}

common::Result<std::string> RenderTemplate(const std::string& template_path,
                                           const std::map<std::string, std::string>& vars) {
  std::ifstream in(template_path);
  if (!in) return Status::InvalidArgument("cannot read " + template_path);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  for (const auto& [name, value] : vars) {
    const std::string key = "@" + name + "@";
    for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size())) {
      text.replace(pos, key.size(), value);
    }
  }
  // A placeholder is @UPPER_CASE@; comments may mention them, code may not.
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::string code = line.substr(0, line.find('#'));
    size_t at = code.find('@');
    if (at != std::string::npos && code.find('@', at + 1) != std::string::npos) {
      return Status::InvalidArgument("unrendered placeholder in " + template_path + ": " + line);
    }
  }
  return text;
}

common::Result<std::unique_ptr<Nginx>> Nginx::Start(const std::string& binary, const std::string& prefix,
                                                    const std::string& conf, int port) {
  for (const char* dir : {"logs", "tmp"}) {
    std::error_code ec;
    std::filesystem::create_directories(prefix + "/" + dir, ec);
    ::chmod((prefix + "/" + dir).c_str(), 0755);
  }
  {
    std::ofstream out(prefix + "/nginx.conf", std::ios::trunc);
    out << conf;
  }
  LaunchOptions options;
  options.binary = binary;
  options.args = {"-p", prefix + "/", "-c", prefix + "/nginx.conf", "-e", prefix + "/logs/error.log",
                  "-g", "daemon off;"};
  options.env = {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}};
  auto process = PluginProcess::Launch(options);
  if (!process.ok()) return process.status();
  auto nginx = std::unique_ptr<Nginx>(new Nginx());
  nginx->process_ = std::move(process).value();
  nginx->prefix_ = prefix;
  nginx->port_ = port;
  // Ready when the port accepts connections; bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ConnectLoopback(port);
    if (fd >= 0) {
      ::close(fd);
      return nginx;
    }
    if (!nginx->process_->Running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Internal("nginx did not start listening on port " + std::to_string(port) +
                          "; stderr: " + nginx->process_->StderrText() + " error.log: " + nginx->ErrorLog());
}

Nginx::~Nginx() {
  if (!process_) return;
  // SIGQUIT: graceful shutdown of master and workers (SIGKILL of the master
  // alone would orphan the worker).
  process_->Signal(SIGQUIT);
  if (!process_->WaitExit(std::chrono::seconds(5))) {
    process_->Signal(SIGTERM);
    if (!process_->WaitExit(std::chrono::seconds(2))) process_->Kill();
  }
}

std::string Nginx::ErrorLog() const { return ReadFileOrEmpty(prefix_ + "/logs/error.log"); }
std::string Nginx::AccessLog() const { return ReadFileOrEmpty(prefix_ + "/logs/access.log"); }

}  // namespace taskcred::test::e2e
