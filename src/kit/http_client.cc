#include "kit/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <charconv>
#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace taskcred::kit {

using common::Result;
using common::Status;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

bool ValidPort(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  int v = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  return ec == std::errc() && ptr == p.data() + p.size() && v >= 1 && v <= 65535;
}

struct Outcome {
  bool done = false;
  Status status;
  HttpResponse response;
};

Status TransportError(const ParsedUrl& url, std::string_view step, const beast::error_code& ec) {
  std::string cause = ec == beast::error::timeout ? std::string("timed out") : ec.message();
  return Status::Unavailable(std::string(step) + " " + (url.https ? "https://" : "http://") + url.host + ":" +
                             url.port + " failed: " + cause);
}

template <typename Stream>
asio::awaitable<void> Exchange(Stream& stream, const ParsedUrl& url, http::request<http::string_body>& req,
                               size_t max_body, Outcome& out) {
  beast::error_code ec;
  co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out.status = TransportError(url, "sending the request to", ec);
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(max_body);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out.status = TransportError(url, "reading the response from", ec);
    co_return;
  }
  auto& res = parser.get();
  out.response.status = static_cast<int>(res.result_int());
  out.response.content_type = std::string(res[http::field::content_type]);
  out.response.body = std::move(res.body());
  out.status = Status::Ok();
}

asio::awaitable<void> Run(asio::io_context& io, ssl::context* tls, const ParsedUrl& url,
                          http::request<http::string_body>& req, const HttpOptions& options, Outcome& out) {
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto results =
      co_await resolver.async_resolve(url.host, url.port, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out.status = TransportError(url, "resolving", ec);
    co_return;
  }
  if (tls == nullptr) {
    beast::tcp_stream stream(io);
    stream.expires_after(options.timeout);
    co_await stream.async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.status = TransportError(url, "connecting to", ec);
      co_return;
    }
    co_await Exchange(stream, url, req, options.max_body_bytes, out);
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(io, *tls);
  beast::get_lowest_layer(stream).expires_after(options.timeout);
  SSL* ssl_handle = stream.native_handle();
  boost::system::error_code addr_ec;
  (void)asio::ip::make_address(url.host, addr_ec);
  if (addr_ec) {
    SSL_set_tlsext_host_name(ssl_handle, url.host.c_str());
    if (!options.insecure_skip_verify) SSL_set1_host(ssl_handle, url.host.c_str());
  } else if (!options.insecure_skip_verify) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), url.host.c_str());
  }
  co_await beast::get_lowest_layer(stream).async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out.status = TransportError(url, "connecting to", ec);
    co_return;
  }
  co_await stream.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out.status = TransportError(url, "TLS handshake with", ec);
    out.status = Status::Unavailable(out.status.message() + " (check the CA file and the URL's host name)");
    co_return;
  }
  co_await Exchange(stream, url, req, options.max_body_bytes, out);
  beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

}  // namespace

Result<ParsedUrl> ParseUrl(std::string_view url) {
  ParsedUrl out;
  std::string_view rest;
  if (StartsWithNoCase(url, "https://")) {
    out.https = true;
    rest = url.substr(8);
  } else if (StartsWithNoCase(url, "http://")) {
    rest = url.substr(7);
  } else {
    return Status::InvalidArgument("URL must start with http:// or https://");
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument("URL must not contain spaces or control characters");
    }
  }
  if (url.find('#') != std::string_view::npos) return Status::InvalidArgument("URL must not have a fragment");
  size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  out.target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (!out.target.empty() && out.target[0] == '?') out.target = "/" + out.target;
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("URL must not contain user information");
  }
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("URL has an unterminated IPv6 literal");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::InvalidArgument("URL has text after the IPv6 literal");
      port = after.substr(1);
      if (!ValidPort(port)) return Status::InvalidArgument("URL port must be a number from 1 to 65535");
    }
  } else {
    size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (!ValidPort(port)) return Status::InvalidArgument("URL port must be a number from 1 to 65535");
    }
  }
  if (out.host.empty()) return Status::InvalidArgument("URL has no host");
  out.port = port.empty() ? (out.https ? "443" : "80") : std::string(port);
  return out;
}

Result<HttpResponse> HttpCall(std::string_view method, std::string_view url_text, const HttpHeaders& headers,
                              std::string body, const HttpOptions& options) {
  TC_ASSIGN_OR_RETURN(ParsedUrl url, ParseUrl(url_text));
  http::verb verb = http::string_to_verb(beast::string_view(method.data(), method.size()));
  if (verb == http::verb::unknown) return Status::InvalidArgument("unknown HTTP method");

  asio::io_context io;
  std::optional<ssl::context> tls;
  if (url.https) {
    tls.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (!options.ca_file.empty()) {
      tls->load_verify_file(options.ca_file, ec);
      if (ec) return Status::InvalidArgument("CA file " + options.ca_file + ": " + ec.message());
    } else {
      tls->set_default_verify_paths(ec);
    }
    tls->set_verify_mode(options.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer, ec);
  }

  http::request<http::string_body> req{verb, url.target, 11};
  const bool default_port = url.port == (url.https ? "443" : "80");
  std::string host_header = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (!default_port) host_header += ":" + url.port;
  req.set(http::field::host, host_header);
  req.set(http::field::user_agent, "taskcred-verify");
  req.set(http::field::connection, "close");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty() || verb == http::verb::put || verb == http::verb::post) {
    req.body() = std::move(body);
    req.prepare_payload();
  }

  Outcome out;
  out.status = Status::Internal("HTTP exchange did not complete");
  asio::co_spawn(io, Run(io, tls ? &*tls : nullptr, url, req, options, out), [&out](std::exception_ptr e) {
    out.done = true;
    if (e) out.status = Status::Internal("HTTP client failed unexpectedly");
  });
  // The stream deadlines end every operation; the margin only guards
  // against a resolver that ignores them.
  io.run_for(options.timeout + std::chrono::seconds(1));
  if (!out.done) {
    return Status::Unavailable(std::string("request to ") + (url.https ? "https://" : "http://") + url.host + ":" +
                               url.port + " timed out");
  }
  if (!out.status.ok()) return out.status;
  return std::move(out.response);
}

}  // namespace taskcred::kit
