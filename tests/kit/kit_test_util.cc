#include "kit/kit_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/jwt.h"

namespace taskcred::test {

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    default: return "Status";
  }
}

}  // namespace

TestHttpServer::TestHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listen_fd_, 64) != 0) {
    std::abort();
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

TestHttpServer::~TestHttpServer() {
  stop_ = true;
  accept_thread_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
}

bool TestHttpServer::WaitForRequests(int n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.load() >= n; });
}

void TestHttpServer::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestHttpServer::Serve(int fd) {
  std::string data;
  char buf[4096];
  size_t header_end;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (std::chrono::steady_clock::now() > deadline || ::poll(&p, 1, 100) < 0) {
      ::close(fd);
      return;
    }
    if (!(p.revents & (POLLIN | POLLHUP))) continue;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) {
      ::close(fd);
      return;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  TestRequest req;
  std::istringstream head(data.substr(0, header_end));
  std::string line;
  std::getline(head, line);
  std::istringstream rl(line);
  rl >> req.method >> req.target;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    req.headers[Lower(line.substr(0, colon))] = value;
  }
  size_t content_length = 0;
  if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
    content_length = std::stoul(it->second);
  }
  req.body = data.substr(header_end + 4);
  while (req.body.size() < content_length) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    req.body.append(buf, static_cast<size_t>(n));
  }
  {
    std::lock_guard lock(mu_);
    ++requests_;
  }
  cv_.notify_all();
  TestResponse res = handler_(req);
  if (res.delay.count() > 0) std::this_thread::sleep_for(res.delay);
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + ReasonPhrase(res.status) + "\r\n" +
                    "Content-Type: " + res.content_type + "\r\nContent-Length: " + std::to_string(res.body.size()) +
                    "\r\nConnection: close\r\n\r\n" + res.body;
  WriteAll(fd, out);
  ::shutdown(fd, SHUT_WR);
  ReadAll(fd, std::chrono::milliseconds(200));
  ::close(fd);
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Mint(const crypto::SigningKey& key, const std::string& kid, const nlohmann::json& claims) {
  auto t = crypto::SignJwt(key, kid, claims);
  if (!t.ok()) std::abort();
  return *t;
}

nlohmann::json Jwks(const std::vector<std::pair<const crypto::SigningKey*, std::string>>& keys) {
  nlohmann::json out = {{"keys", nlohmann::json::array()}};
  for (const auto& [k, kid] : keys) out["keys"].push_back(k->PublicJwk(kid));
  return out;
}

RunResult RunTool(const std::string& binary, const std::vector<std::string>& args, const Env& env,
              std::chrono::milliseconds timeout) {
  LaunchOptions lo;
  lo.binary = binary;
  lo.args = args;
  lo.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}};
  for (const auto& e : env) lo.env.push_back(e);
  RunResult r;
  auto p = PluginProcess::Launch(lo);
  if (!p.ok()) {
    r.err = p.status().ToString();
    return r;
  }
  auto exit = (*p)->WaitExit(timeout);
  if (!exit) {
    (*p)->Kill();
    (*p)->WaitExit(std::chrono::seconds(5));
  }
  (*p)->WaitOutputClosed();
  r.out = (*p)->StdoutText();
  r.err = (*p)->StderrText();
  if (exit && exit->exited) r.exit_code = exit->code;
  return r;
}

RunResult RunWithStdin(const std::string& binary, const std::vector<std::string>& args, const std::string& stdin_text,
                       const Env& env) {
  std::string cmd = "printf '%s' \"$KIT_STDIN\" | \"$KIT_BINARY\"";
  for (size_t i = 0; i < args.size(); ++i) cmd += " \"$KIT_ARG" + std::to_string(i) + "\"";
  Env e = env;
  e.emplace_back("KIT_STDIN", stdin_text);
  e.emplace_back("KIT_BINARY", binary);
  for (size_t i = 0; i < args.size(); ++i) e.emplace_back("KIT_ARG" + std::to_string(i), args[i]);
  return RunTool("/bin/sh", {"-c", cmd}, e);
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/taskcred-kit-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  std::string p = path_ + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(p).parent_path());
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::pair<std::string, bool> ReadAll(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {out, false};
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return {out, true};
    out.append(buf, static_cast<size_t>(n));
  }
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::unique_ptr<Sidecar> Sidecar::Start(const std::vector<std::string>& args, const Env& env) {
  LaunchOptions lo;
  lo.binary = AuthzPath();
  lo.args = args;
  lo.args.push_back("--listen");
  lo.args.push_back("127.0.0.1:0");
  lo.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}};
  for (const auto& e : env) lo.env.push_back(e);
  auto p = PluginProcess::Launch(lo);
  if (!p.ok()) return nullptr;
  auto s = std::unique_ptr<Sidecar>(new Sidecar());
  s->process_ = std::move(p).value();
  auto line = s->process_->WaitForStderrLine(
      [](const std::string& l) { return l.find("\"listening\"") != std::string::npos; }, std::chrono::seconds(10));
  if (!line) return nullptr;
  auto j = nlohmann::json::parse(*line, nullptr, false);
  if (j.is_discarded() || !j.contains("addr")) return nullptr;
  std::string addr = j["addr"];
  s->port_ = std::stoi(addr.substr(addr.rfind(':') + 1));
  return s;
}

Sidecar::~Sidecar() {
  if (process_ && process_->Running()) {
    process_->Signal(SIGTERM);
    if (!process_->WaitExit(std::chrono::seconds(5))) process_->Kill();
  }
}

std::string AuthzPath() { return TASKCRED_AUTHZ_PATH; }
std::string VerifyPath() { return TASKCRED_VERIFY_PATH; }

}  // namespace taskcred::test
