#include "harness/fake_vault_api.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <ctime>

#include <utility>  // before Boost.Asio: its awaitable.hpp misses it under C++20

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "harness/handshake.h"

namespace taskcred::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using common::Result;
using common::Status;

}  // namespace

struct FakeVaultApi::Impl {
  asio::io_context io;
  std::optional<asio::ssl::context> ssl;
  tcp::acceptor acceptor{io};
  std::thread thread;

  mutable std::mutex mu;
  std::map<std::string, nlohmann::json> secrets;  // token -> data
  std::optional<std::pair<int, std::string>> refuse;
  std::vector<RequestRecord> requests;

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;  // acceptor closed
      Serve(std::move(socket));
      Accept();
    });
  }

  // One request per connection, served synchronously on the io thread (a
  // test server; a stuck client is bounded by the socket timeouts).
  void Serve(tcp::socket socket) {
    timeval tv{5, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    boost::system::error_code ec;
    if (ssl) {
      asio::ssl::stream<tcp::socket> stream(std::move(socket), *ssl);
      stream.handshake(asio::ssl::stream_base::server, ec);
      if (ec) {
        std::lock_guard<std::mutex> lock(mu);
        requests.push_back({"TLS", ec.message(), "", "", 0});
        return;
      }
      Exchange(stream);
      stream.shutdown(ec);
    } else {
      Exchange(socket);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  template <typename Stream>
  void Exchange(Stream& stream) {
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(stream, buffer, req, ec);
    if (ec) return;
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(false);
    res.set(http::field::content_type, "application/json");
    RequestRecord record{std::string(req.method_string()), std::string(req.target()),
                         std::string(req[beast::string_view("X-Vault-Token")]),
                         std::string(req[beast::string_view("X-Vault-Request")]), 0};
    auto error_body = [](const std::string& msg) { return nlohmann::json{{"errors", {msg}}}.dump(); };
    {
      std::lock_guard<std::mutex> lock(mu);
      if (req.target() != "/v1/sys/wrapping/unwrap" || (req.method() != http::verb::put && req.method() != http::verb::post)) {
        res.result(http::status::not_found);
        res.body() = error_body("no handler for route");
      } else if (refuse) {
        res.result(static_cast<unsigned>(refuse->first));
        res.body() = error_body(refuse->second);
      } else if (auto it = secrets.find(record.token); it == secrets.end()) {
        res.result(http::status::bad_request);
        res.body() = error_body("wrapping token is not valid or does not exist");
      } else {
        nlohmann::json body = {{"request_id", RandomUuid()}, {"lease_id", ""},    {"renewable", false},
                               {"lease_duration", 0},        {"data", it->second}, {"wrap_info", nullptr},
                               {"warnings", nullptr},        {"auth", nullptr}};
        secrets.erase(it);  // single use
        res.result(http::status::ok);
        res.body() = body.dump();
      }
      record.status = static_cast<int>(res.result_int());
      requests.push_back(record);
    }
    res.prepare_payload();
    http::write(stream, res, ec);
  }
};

Result<std::unique_ptr<FakeVaultApi>> FakeVaultApi::Start(const Options& options) {
  std::unique_ptr<FakeVaultApi> api(new FakeVaultApi());
  api->impl_ = std::make_unique<Impl>();
  Impl& impl = *api->impl_;
  boost::system::error_code ec;
  if (options.tls) {
    impl.ssl.emplace(asio::ssl::context::tls_server);
    impl.ssl->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1);
    impl.ssl->use_certificate_chain(asio::buffer(options.server_cert.cert_pem), ec);
    if (!ec) impl.ssl->use_private_key(asio::buffer(options.server_cert.key_pem), asio::ssl::context::pem, ec);
    if (ec) return Status::Internal("fake Vault API TLS setup: " + ec.message());
  }
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl.acceptor.open(ep.protocol(), ec);
  if (!ec) impl.acceptor.bind(ep, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Internal("fake Vault API listen: " + ec.message());
  api->port_ = impl.acceptor.local_endpoint().port();
  api->addr_ = std::string(options.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(api->port_);
  impl.Accept();
  impl.thread = std::thread([&impl] { impl.io.run(); });
  return api;
}

FakeVaultApi::~FakeVaultApi() {
  if (!impl_) return;
  asio::post(impl_->io, [this] {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void FakeVaultApi::AddWrappedSecret(const std::string& token, nlohmann::json data) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->secrets[token] = std::move(data);
}

void FakeVaultApi::RefuseAll(int http_status, std::string message) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->refuse = std::make_pair(http_status, std::move(message));
}

std::vector<FakeVaultApi::RequestRecord> FakeVaultApi::Requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}

nlohmann::json WrappedPluginTlsData(const CertKey& cert) {
  return {{"ServerCert", Base64Encode(cert.cert_der, true)}, {"ServerKey", Base64Encode(cert.key_sec1_der, true)}};
}

std::string MakeUnwrapJwt(const std::optional<std::string>& addr, const std::string& jti) {
  nlohmann::json header = {{"alg", "ES512"}, {"typ", "JWT"}};
  auto now = static_cast<long long>(std::time(nullptr));
  nlohmann::json payload = {{"accessor", ""}, {"exp", now + 60}, {"iat", now}, {"jti", jti}, {"nbf", now - 5}, {"type", "wrapping"}};
  if (addr) payload["addr"] = *addr;
  std::string sig(132, '\0');
  for (size_t i = 0; i < sig.size(); ++i) sig[i] = static_cast<char>((i * 131 + 7) & 0xff);
  return Base64UrlEncodeRaw(header.dump()) + "." + Base64UrlEncodeRaw(payload.dump()) + "." + Base64UrlEncodeRaw(sig);
}

}  // namespace taskcred::test
