// The legacy (protocol 4) TLS bootstrap's one network call: unwrapping the
// host's response-wrapped TLS material through the Vault API
// (PUT /v1/sys/wrapping/unwrap), over Boost.Beast, bounded by one deadline.
// Declared in runtime/tls.h with the pure pieces of the flow (tls.cc).
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "runtime/tls.h"

namespace taskcred::runtime {
namespace {

using common::Result;
using common::Status;

Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(std::string(what) + ": cannot read file " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

Status ConfigureSsl(ssl::context& ctx, const ApiTlsConfig& tls) {
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  bool custom_ca = false;
  if (!tls.ca_cert_pem.empty()) {
    ctx.add_certificate_authority(asio::buffer(tls.ca_cert_pem), ec);
    if (ec) return Status::InvalidArgument("CA certificate bytes: " + ec.message());
    custom_ca = true;
  } else if (!tls.ca_cert_file.empty()) {
    TC_ASSIGN_OR_RETURN(std::string pem, ReadFile(tls.ca_cert_file, "ca-cert"));
    ctx.add_certificate_authority(asio::buffer(pem), ec);
    if (ec) return Status::InvalidArgument("ca-cert " + tls.ca_cert_file + ": " + ec.message());
    custom_ca = true;
  }
  if (!tls.ca_path.empty()) {
    ctx.add_verify_path(tls.ca_path, ec);
    if (ec) return Status::InvalidArgument("ca-path " + tls.ca_path + ": " + ec.message());
    custom_ca = true;
  }
  if (!custom_ca) {
    ctx.set_default_verify_paths(ec);
    ERR_clear_error();
  }
  std::string cert_pem = tls.client_cert_pem, key_pem = tls.client_key_pem;
  if (cert_pem.empty() && !tls.client_cert_file.empty()) {
    TC_ASSIGN_OR_RETURN(cert_pem, ReadFile(tls.client_cert_file, "client-cert"));
  }
  if (key_pem.empty() && !tls.client_key_file.empty()) {
    TC_ASSIGN_OR_RETURN(key_pem, ReadFile(tls.client_key_file, "client-key"));
  }
  if (!cert_pem.empty()) {
    ctx.use_certificate_chain(asio::buffer(cert_pem), ec);
    if (ec) return Status::InvalidArgument("client certificate: " + ec.message());
    ctx.use_private_key(asio::buffer(key_pem), ssl::context::pem, ec);
    if (ec) return Status::InvalidArgument("client key: " + ec.message());
  }
  ctx.set_verify_mode(tls.skip_verify ? ssl::verify_none : ssl::verify_peer, ec);
  return Status::Ok();
}

http::request<http::string_body> UnwrapRequest(const ApiAddr& addr, const ApiTlsConfig& tls, std::string_view token) {
  http::request<http::string_body> req{http::verb::put, addr.base_path + "/v1/sys/wrapping/unwrap", 11};
  req.set(http::field::host, addr.host);
  req.set(http::field::user_agent, "taskcred-plugin");
  req.set("X-Vault-Token", std::string(token));
  req.set("X-Vault-Request", "true");
  if (!tls.namespace_header.empty()) req.set("X-Vault-Namespace", tls.namespace_header);
  req.set(http::field::content_type, "application/json");
  req.body() = "null";
  req.prepare_payload();
  return req;
}

// One unwrap call on a private io_context. Every step (resolve, connect, TLS
// handshake, write, read) is asynchronous and a single deadline timer closes the
// socket when `timeout` has passed since the start, so a Vault API that accepts
// and never answers (or answers a byte at a time) cannot hold the plugin's
// start-up forever. Name resolution runs on Asio's resolver thread; a
// cancelled getaddrinfo still returns within the system resolver's own limits.
class UnwrapCall {
 public:
  UnwrapCall(const ApiAddr& addr, const ApiTlsConfig& tls, std::string_view token, ssl::context& ctx)
      : addr_(addr),
        where_((addr.https ? "https://" : "http://") + addr.host + ":" + addr.port),
        req_(UnwrapRequest(addr, tls, token)),
        server_name_(tls.server_name.empty() ? addr.host : tls.server_name),
        resolver_(io_),
        stream_(io_, ctx),
        deadline_(io_) {}

  Result<std::string> Run(std::chrono::seconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([this](boost::system::error_code ec) {
      if (ec || done_) return;
      timed_out_ = true;
      resolver_.cancel();
      boost::system::error_code ignored;
      stream_.next_layer().close(ignored);
    });
    stage_ = "resolving the address";
    resolver_.async_resolve(addr_.host, addr_.port,
                            [this](boost::system::error_code ec, asio::ip::tcp::resolver::results_type results) {
                              OnResolved(ec, std::move(results));
                            });
    io_.run();
    if (timed_out_ && !result_.ok()) {
      return Status::Unavailable("the Vault API at " + where_ + " did not answer the unwrap call within " +
                                 std::to_string(timeout.count()) + " s (timed out while " + stage_ + ")");
    }
    return std::move(result_);
  }

 private:
  void Finish(Result<std::string> r) {
    done_ = true;
    result_ = std::move(r);
    deadline_.cancel();
    boost::system::error_code ignored;
    stream_.next_layer().close(ignored);
  }

  void OnResolved(boost::system::error_code ec, asio::ip::tcp::resolver::results_type results) {
    if (ec) return Finish(Status::Unavailable("cannot resolve the Vault API address " + where_ + ": " + ec.message()));
    stage_ = "connecting";
    asio::async_connect(stream_.next_layer(), results,
                        [this](boost::system::error_code cec, const asio::ip::tcp::endpoint&) { OnConnected(cec); });
  }

  void OnConnected(boost::system::error_code ec) {
    if (ec) return Finish(Status::Unavailable("cannot reach the Vault API at " + where_ + ": " + ec.message()));
    if (!addr_.https) return Send(stream_.next_layer());
    boost::system::error_code addr_ec;
    (void)asio::ip::make_address(server_name_, addr_ec);
    if (addr_ec) {
      SSL_set_tlsext_host_name(stream_.native_handle(), server_name_.c_str());
      SSL_set1_host(stream_.native_handle(), server_name_.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream_.native_handle()), server_name_.c_str());
    }
    stage_ = "in the TLS handshake";
    stream_.async_handshake(ssl::stream_base::client, [this](boost::system::error_code hec) {
      if (hec) {
        return Finish(Status::Unavailable("TLS handshake with the Vault API at " + where_ +
                                          " failed: " + hec.message() +
                                          " (check -ca-cert/-ca-path/-tls-server-name or VAULT_CACERT)"));
      }
      Send(stream_);
    });
  }

  template <typename Stream>
  void Send(Stream& s) {
    stage_ = "sending the request";
    http::async_write(s, req_, [this, &s](boost::system::error_code ec, size_t) {
      if (ec) return Finish(Status::Unavailable("sending the unwrap request failed: " + ec.message()));
      stage_ = "waiting for the response";
      http::async_read(s, buffer_, res_, [this](boost::system::error_code rec, size_t) {
        if (rec) return Finish(Status::Unavailable("reading the unwrap response failed: " + rec.message()));
        if (res_.result_int() != 200) {
          std::string body = res_.body().substr(0, 512);
          return Finish(Status::PermissionDenied("the Vault API refused to unwrap the plugin token (HTTP " +
                                                 std::to_string(res_.result_int()) + "): " + body));
        }
        Finish(std::move(res_.body()));
      });
    });
  }

  const ApiAddr& addr_;
  const std::string where_;
  http::request<http::string_body> req_;
  const std::string server_name_;
  asio::io_context io_;
  asio::ip::tcp::resolver resolver_;
  ssl::stream<asio::ip::tcp::socket> stream_;
  asio::steady_timer deadline_;
  beast::flat_buffer buffer_;
  http::response<http::string_body> res_;
  std::string stage_;
  bool done_ = false;
  bool timed_out_ = false;
  Result<std::string> result_ = Status::Internal("the unwrap call did not complete");
};

}  // namespace

Result<std::string> CallUnwrap(const ApiAddr& addr, const ApiTlsConfig& tls, std::string_view token,
                               std::chrono::seconds timeout) {
  ssl::context ctx(ssl::context::tls_client);
  if (addr.https) TC_RETURN_IF_ERROR(ConfigureSsl(ctx, tls));
  UnwrapCall call(addr, tls, token, ctx);
  return call.Run(timeout);
}

Result<std::chrono::seconds> UnwrapTimeout(const EnvGetter& env) {
  auto text = env(std::string(kUnwrapTimeoutEnv));
  if (!text || text->empty()) return kDefaultUnwrapTimeout;
  bool digits = text->size() <= 4 && text->find_first_not_of("0123456789") == std::string::npos;
  int secs = digits ? std::stoi(*text) : 0;
  if (secs < 1 || secs > 3600) {
    return Status::InvalidArgument(std::string(kUnwrapTimeoutEnv) + " must be whole seconds from 1 to 3600");
  }
  return std::chrono::seconds(secs);
}

Result<TlsMaterial> LegacyTlsMaterial(const EnvGetter& env, const std::vector<std::string>& args) {
  TC_ASSIGN_OR_RETURN(ApiClientFlags flags, ParseApiClientFlags(args));
  TC_ASSIGN_OR_RETURN(ApiTlsConfig tls, ApiTlsConfigFrom(env, flags));
  std::string token = LookupBaoOrVault(env, "UNWRAP_TOKEN").value_or("");
  TC_ASSIGN_OR_RETURN(std::string addr_text, UnwrapTokenAddr(token));
  TC_ASSIGN_OR_RETURN(ApiAddr addr, ParseApiAddr(addr_text));
  TC_ASSIGN_OR_RETURN(std::chrono::seconds timeout, UnwrapTimeout(env));
  TC_ASSIGN_OR_RETURN(std::string body, CallUnwrap(addr, tls, token, timeout));
  return ParseUnwrapResponse(body);
}

}  // namespace taskcred::runtime
