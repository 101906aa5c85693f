// taskcred-authz: a forward-auth sidecar for reverse proxies (nginx
// auth_request, Traefik forwardAuth, Envoy ext_authz over HTTP).
//
//   GET /check   Authorization: Bearer <credential>, X-Resource, X-Action
//                200 allowed | 401 missing or invalid credential | 403 valid
//                but not allowed, or X-Resource/X-Action missing | 400 a
//                header given twice | 503 JWKS/Vault unreachable
//   GET /healthz 200
//
// HTTP/1.1 over Boost.Beast with C++20 coroutines: one coroutine per
// connection on its own strand, a pool of --threads io threads. Bounded
// header and body sizes (431/413, then close), at most --max-connections
// open connections (more get a 503 and are closed), a deadline for the
// first request of a connection, an idle deadline between keep-alive
// requests and a deadline per response write (slow clients are dropped),
// one JSON log line per decision on stderr (never the credential),
// graceful shutdown on SIGTERM/SIGINT: stop accepting, close idle
// connections, let in-flight requests finish (up to --shutdown-grace-ms; a
// second signal stops at once), exit 0.
//
// Why 403 (not 400) for a missing X-Resource or X-Action: nginx
// auth_request turns every answer other than 2xx/401/403 into a 500, and a
// proxy that forgot to send them is a misconfiguration that must fail
// closed as "forbidden", visibly in the log (reason
// missing_resource_or_action).
#include <signal.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <condition_variable>
#include <coroutine>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "kit/tools/authz_check.h"
#include "kit/tools/authz_config.h"
#include "kit/tools/tool_util.h"
#include "kit/verifier.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

std::mutex g_log_mu;

std::string NowRfc3339() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

void Log(const std::string& level, const std::string& msg, json fields = json::object()) {
  json line = {{"@timestamp", NowRfc3339()}, {"@level", level}, {"@message", msg}};
  for (auto& [k, v] : fields.items()) line[k] = v;
  std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace);
  std::lock_guard lock(g_log_mu);
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

struct Connection {
  explicit Connection(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool idle = true;  // not handling a request; touched only on the strand
};

class Server {
 public:
  Server(taskcred::kit::tools::AuthzConfig config, std::unique_ptr<taskcred::kit::Verifier> verifier)
      : config_(std::move(config)), verifier_(std::move(verifier)), io_(config_.threads), acceptor_(asio::make_strand(io_)) {}

  int Run() {
    beast::error_code ec;
    auto addr = asio::ip::make_address(config_.host, ec);
    if (ec) return Fail("--listen host must be an IP address: " + config_.host);
    unsigned long port = std::stoul(config_.port);
    tcp::endpoint ep(addr, static_cast<unsigned short>(port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Fail("cannot listen on " + config_.host + ":" + config_.port + ": " + ec.message());
    tcp::endpoint bound = acceptor_.local_endpoint(ec);
    std::string bound_text = bound.address().to_string() + ":" + std::to_string(bound.port());
    if (bound.address().is_v6()) bound_text = "[" + bound.address().to_string() + "]:" + std::to_string(bound.port());
    // First SIGTERM/SIGINT: graceful shutdown. A second one: stop now.
    asio::signal_set signals(io_, SIGTERM, SIGINT);
    std::function<void(const beast::error_code&, int)> on_signal = [&](const beast::error_code& e, int sig) {
      if (e) return;
      if (!Stopping()) {
        BeginShutdown(sig);
        signals.async_wait(on_signal);
        return;
      }
      Log("warn", "second signal; stopping without waiting for in-flight requests");
      std::lock_guard lock(mu_);
      forced_ = true;
      cv_.notify_all();
    };
    signals.async_wait(on_signal);
    asio::co_spawn(acceptor_.get_executor(), Accept(), asio::detached);
    // Logged once the signal handlers are in place: whoever waits for this
    // line may send SIGTERM at once and get a graceful exit.
    Log("info", "listening",
        {{"addr", bound_text}, {"mode", verifier_->online() ? "introspect" : "jwks"}, {"threads", config_.threads}});

    std::vector<std::thread> threads;
    for (int i = 0; i < config_.threads; ++i) threads.emplace_back([this] { io_.run(); });
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_; });
      bool done = cv_.wait_for(lock, config_.shutdown_grace,
                               [this] { return forced_ || (conns_.empty() && !accepting_); });
      if (!done) {
        Log("warn", "shutdown grace period over; closing remaining connections", {{"connections", conns_.size()}});
      }
    }
    io_.stop();
    for (auto& t : threads) t.join();
    Log("info", "stopped");
    return 0;
  }

 private:
  int Fail(const std::string& msg) {
    Log("error", msg);
    return 2;
  }

  void BeginShutdown(int sig) {
    Log("info", "shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    std::vector<std::weak_ptr<Connection>> conns;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (auto& [id, c] : conns_) conns.push_back(c);
    }
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    // Idle connections (waiting for a request) are closed; busy ones finish
    // their request and then close (Connection: close).
    for (auto& weak : conns) {
      if (auto c = weak.lock()) {
        asio::post(c->stream.get_executor(), [c] {
          if (c->idle) c->stream.cancel();
        });
      }
    }
    cv_.notify_all();
  }

  bool Stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  asio::awaitable<void> Accept() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::make_strand(io_), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (Stopping() || ec == asio::error::operation_aborted) break;
        Log("warn", "accept failed", {{"error", ec.message()}});
        continue;
      }
      uint64_t id = 0;
      std::shared_ptr<Connection> conn;
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
        if (conns_.size() >= config_.max_connections) {
          RefuseOverLimit(std::move(socket), conns_.size());
          continue;
        }
        conn = std::make_shared<Connection>(std::move(socket));
        id = next_id_++;
        conns_[id] = conn;
      }
      asio::co_spawn(conn->stream.get_executor(), Serve(conn, id), asio::detached);
    }
    std::lock_guard lock(mu_);
    accepting_ = false;
    cv_.notify_all();
  }

  // Over --max-connections: a canned 503 written without blocking (a fresh
  // socket's send buffer takes it), then close. Never waits on the client.
  void RefuseOverLimit(tcp::socket socket, size_t open) {
    static const std::string kBusy = [] {
      const std::string body = R"({"error":"too many connections"})";
      return "HTTP/1.1 503 Service Unavailable\r\nServer: taskcred-authz\r\nContent-Type: application/json\r\n"
             "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    beast::error_code ec;
    socket.non_blocking(true, ec);
    if (!ec) socket.write_some(asio::buffer(kBusy), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    Log("warn", "connection refused: too many connections", {{"open", open}, {"limit", config_.max_connections}});
  }

  void Forget(uint64_t id) {
    std::lock_guard lock(mu_);
    conns_.erase(id);
    cv_.notify_all();
  }

  asio::awaitable<void> Serve(std::shared_ptr<Connection> conn, uint64_t id) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    std::string remote;
    {
      auto ep = conn->stream.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    bool first = true;
    for (;;) {
      conn->idle = true;
      if (Stopping()) break;
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(config_.max_header_bytes));
      parser.body_limit(config_.max_body_bytes);
      // The first request must arrive completely within read_timeout of
      // connecting; later ones may take idle_timeout to start, then
      // read_timeout from their first byte.
      conn->stream.expires_after(first ? config_.read_timeout : config_.idle_timeout);
      if (buffer.size() == 0) {
        size_t n = co_await conn->stream.async_read_some(buffer.prepare(4096),
                                                         asio::redirect_error(asio::use_awaitable, ec));
        buffer.commit(n);
        if (ec) {
          if (ec == beast::error::timeout) {
            Log("info", first ? "read timeout; connection closed" : "idle timeout; connection closed",
                {{"remote", remote}});
          }
          break;
        }
      }
      if (!first) conn->stream.expires_after(config_.read_timeout);
      first = false;
      conn->idle = false;  // a request is arriving: in flight for shutdown
      co_await http::async_read(conn->stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        int status = 0;
        if (ec == http::error::header_limit) {
          status = 431;
        } else if (ec == http::error::body_limit) {
          status = 413;
        } else if (ec.category() == http::make_error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream &&
                   ec != http::error::partial_message) {
          status = 400;
        }
        if (ec == beast::error::timeout) Log("info", "read timeout; connection closed", {{"remote", remote}});
        if (status != 0) {
          conn->idle = false;
          Log("info", "bad request", {{"status", status}, {"error", ec.message()}, {"remote", remote}});
          http::response<http::string_body> res{static_cast<http::status>(status), 11};
          res.set(http::field::content_type, "application/json");
          res.keep_alive(false);
          res.body() = json({{"error", ec.message()}}).dump();
          res.prepare_payload();
          conn->stream.expires_after(config_.write_timeout);
          co_await http::async_write(conn->stream, res, asio::redirect_error(asio::use_awaitable, ec));
          if (!ec) co_await LingeringClose(*conn);
        }
        break;
      }
      conn->idle = false;
      http::request<http::string_body> req = parser.release();
      http::response<http::string_body> res = Handle(req, remote);
      res.keep_alive(req.keep_alive() && !Stopping());
      res.prepare_payload();
      conn->stream.expires_after(config_.write_timeout);
      co_await http::async_write(conn->stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !res.keep_alive()) break;
    }
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    conn->stream.close();
    Forget(id);
  }

  // After an error answer the client may still be sending (the rest of an
  // oversized header): closing with unread input would reset the connection
  // and could destroy the answer before the client reads it. Half-close,
  // then discard input for a bounded time (1 s, 1 MiB) before closing.
  static asio::awaitable<void> LingeringClose(Connection& conn) {
    beast::error_code ec;
    conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    conn.stream.expires_after(std::chrono::seconds(1));
    char sink[4096];
    size_t total = 0;
    while (!ec && total < (1u << 20)) {
      total += co_await conn.stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  http::response<http::string_body> Handle(const http::request<http::string_body>& req, const std::string& remote) {
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "taskcred-authz");
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    if (path == "/healthz") {
      res.body() = R"({"status":"ok"})";
      return res;
    }
    if (path != "/check") {
      res.result(http::status::not_found);
      res.body() = R"({"error":"not found"})";
      return res;
    }
    const auto start = std::chrono::steady_clock::now();
    auto header = [&req](const char* name) { return std::string(req[name]); };
    taskcred::kit::tools::CheckRequest check{header("Authorization"), header("X-Resource"),
                                             header("X-Action"),      header("DPoP"),
                                             header("X-Original-Method"), header("X-Original-URI"), ""};
    for (const char* name : taskcred::kit::tools::kCheckHeaders) {
      if (req.count(name) > 1) check.duplicate = name;
    }
    taskcred::kit::tools::CheckAnswer answer = DecideCheck(*verifier_, check, config_.external_url);
    const taskcred::kit::Verdict& v = answer.verdict;
    const std::string& reason = answer.reason;
    const std::string& resource = check.resource;
    const std::string& action = check.action;
    res.result(static_cast<http::status>(answer.status));
    if (!answer.www_authenticate.empty()) res.set(http::field::www_authenticate, answer.www_authenticate);
    if (v.ok) {
      res.set("X-Taskcred-Task-Id", v.claims.task_id);
      res.set("X-Taskcred-Task", v.claims.task);
      res.set("X-Taskcred-Role", v.claims.role);
      res.set("X-Taskcred-Sub", v.claims.sub);
    }
    res.body() = json({{"allowed", v.ok}, {"reason", reason}}).dump();
    auto ms = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
    const char* decision = v.ok ? "allow" : res.result_int() >= 500 ? "error" : "deny";
    json fields = {{"decision", decision}, {"status", res.result_int()}, {"reason", reason},
                   {"resource", resource}, {"action", action},           {"remote", remote},
                   {"duration_ms", ms.count() / 1000.0}};
    if (!v.claims.task_id.empty()) {
      fields["task_id"] = v.claims.task_id;
      fields["task"] = v.claims.task;
      fields["role"] = v.claims.role;
    }
    if (!v.ok && !v.detail.empty()) fields["detail"] = v.detail;
    Log("info", "decision", std::move(fields));
    return res;
  }

  taskcred::kit::tools::AuthzConfig config_;
  std::unique_ptr<taskcred::kit::Verifier> verifier_;
  asio::io_context io_;
  tcp::acceptor acceptor_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool forced_ = false;  // a second signal during shutdown
  bool accepting_ = true;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Connection>> conns_;
};

int UsageError(const std::string& message) {
  std::cerr << "taskcred-authz: " << message << "\n(run taskcred-authz --help for usage)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << taskcred::kit::tools::kAuthzUsage;
      return 0;
    }
  }
  auto flags = taskcred::kit::tools::ParseFlags(argc, argv, taskcred::kit::tools::AuthzValueFlags(),
                                                taskcred::kit::tools::VerifierSwitches());
  if (!flags.ok()) return UsageError(flags.status().message());
  if (!flags->positional.empty()) return UsageError("unexpected argument " + flags->positional[0]);
  auto config = taskcred::kit::tools::AuthzConfigFromFlags(*flags);
  if (!config.ok()) return UsageError(config.status().message());

  auto options = taskcred::kit::tools::OptionsFromFlags(*flags);
  if (!options.ok()) return UsageError(options.status().message());
  auto verifier = taskcred::kit::Verifier::Create(std::move(options).value());
  if (!verifier.ok()) return UsageError(verifier.status().message());
  if (!(*verifier)->online()) {
    // Warm the cache; a failure is not fatal (the JWKS server may come up
    // later), checks answer 503 until a fetch succeeds.
    taskcred::common::Status s = (*verifier)->RefreshJwks();
    if (!s.ok()) Log("warn", "initial JWKS fetch failed", {{"error", s.message()}});
  }
  ::signal(SIGPIPE, SIG_IGN);
  Server server(std::move(config).value(), std::move(verifier).value());
  return server.Run();
}
