#include "runtime/test_support.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "crypto/encoding.h"

namespace taskcred::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;

Child::~Child() {
  if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  if (out >= 0) close(out);
  if (err >= 0) close(err);
}

std::unique_ptr<Child> Spawn(const std::string& binary, const std::vector<std::string>& env,
                             const std::vector<std::string>& args) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return nullptr;
  auto c = std::make_unique<Child>();
  c->pid = fork();
  if (c->pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  c->out = out[0];
  c->err = err[0];
  return c;
}

std::string ReadLine(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  return line;
}

std::string ReadAll(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    usleep(10000);  // polling a child's exit status; there is no condition to await
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string DerToPem(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (x == nullptr) return "";
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(b);
  X509_free(x);
  return pem;
}

Handshake ReadHandshake(int fd) {
  Handshake h;
  std::string line = ReadLine(fd, std::chrono::seconds(20));
  if (line.empty() || line.back() != '\n') return h;
  line.pop_back();
  h.fields = Split(line, '|');
  if (h.fields.size() >= 6 && !h.fields[5].empty()) {
    auto der = crypto::Base64Decode(h.fields[5] + std::string((4 - h.fields[5].size() % 4) % 4, '='));
    if (der.ok()) h.plugin_cert_pem = DerToPem(*der);
  }
  return h;
}

std::shared_ptr<grpc::Channel> PluginChannel(const std::string& socket, const runtime::GeneratedCert* identity,
                                             const std::string& trust_pem, const std::string& server_name) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  if (identity == nullptr) {
    return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = trust_pem;
  o.pem_private_key = identity->key_pem;
  o.pem_cert_chain = identity->cert_pem;
  args.SetSslTargetNameOverride(server_name);
  return grpc::CreateCustomChannel("unix:" + socket, grpc::SslCredentials(o), args);
}

runtime::EnvGetter FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string UnwrapJwt(const std::string& addr) {
  return crypto::Base64UrlEncode(R"({"alg":"ES512","typ":"JWT"})") + "." +
         crypto::Base64UrlEncode(nlohmann::json{{"addr", addr}, {"jti", "wrap-id"}, {"type", "wrapping"}}.dump()) +
         ".c2ln";
}

LegacyIdentity MakeLegacyIdentity(const std::string& cn) {
  LegacyIdentity id;
  EVP_PKEY* key = EVP_EC_gen("P-521");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
  X509_gmtime_adj(X509_getm_notBefore(x), -30);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_set_pubkey(x, key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  std::string san = "DNS:" + cn;
  for (auto [nid, value] : std::vector<std::pair<int, std::string>>{
           {NID_subject_alt_name, san},
           {NID_ext_key_usage, "serverAuth,clientAuth"},
           {NID_key_usage, "critical,digitalSignature,keyEncipherment,keyAgreement"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha512());
  unsigned char* c = nullptr;
  int n = i2d_X509(x, &c);
  id.cert.cert_der.assign(reinterpret_cast<char*>(c), static_cast<size_t>(n));
  OPENSSL_free(c);
  id.cert.cert_pem = DerToPem(id.cert.cert_der);
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long kn = BIO_get_mem_data(b, &data);
  id.cert.key_pem.assign(data, static_cast<size_t>(kn));
  BIO_free(b);
  unsigned char* k = nullptr;
  int sn = i2d_PrivateKey(key, &k);  // type-specific encoding = SEC1 for EC keys
  id.sec1_key_der.assign(reinterpret_cast<char*>(k), static_cast<size_t>(sn));
  OPENSSL_free(k);
  X509_free(x);
  EVP_PKEY_free(key);
  return id;
}

std::string UnwrapResponseBody(const LegacyIdentity& id) {
  return nlohmann::json{{"request_id", "r1"},
                        {"lease_id", ""},
                        {"data",
                         {{"ServerCert", crypto::Base64Encode(id.cert.cert_der)},
                          {"ServerKey", crypto::Base64Encode(id.sec1_key_der)}}},
                        {"wrap_info", nullptr}}
      .dump();
}

OneShotApi::OneShotApi(int status, std::string body, const runtime::GeneratedCert* tls_cert)
    : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  thread_ = std::thread([this, status, body = std::move(body), tls_cert] {
    boost::system::error_code ec;
    asio::ip::tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (ec) return;
    if (tls_cert == nullptr) {
      Answer(socket, status, body);
      return;
    }
    asio::ssl::context ctx(asio::ssl::context::tls_server);
    ctx.use_certificate_chain(asio::buffer(tls_cert->cert_pem), ec);
    ctx.use_private_key(asio::buffer(tls_cert->key_pem), asio::ssl::context::pem, ec);
    asio::ssl::stream<asio::ip::tcp::socket&> stream(socket, ctx);
    stream.handshake(asio::ssl::stream_base::server, ec);
    if (ec) return;
    Answer(stream, status, body);
  });
}

OneShotApi::~OneShotApi() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  thread_.join();
}

OneShotApi::Seen OneShotApi::seen() {
  std::lock_guard<std::mutex> l(mu_);
  return seen_;
}

template <typename Stream>
void OneShotApi::Answer(Stream& s, int status, const std::string& body) {
  boost::beast::flat_buffer buf;
  http::request<http::string_body> req;
  boost::system::error_code ec;
  http::read(s, buf, req, ec);
  if (ec) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    seen_ = {std::string(req.method_string()), std::string(req.target()), std::string(req["X-Vault-Token"]),
             std::string(req["X-Vault-Request"])};
  }
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.body() = body;
  res.prepare_payload();
  http::write(s, res, ec);
}

grpc::Status MemStorage::List(grpc::ServerContext*, const ::pb::StorageListArgs* a, ::pb::StorageListReply* r) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = m_.lower_bound(a->prefix()); it != m_.end() && it->first.rfind(a->prefix(), 0) == 0; ++it) {
    std::string rest = it->first.substr(a->prefix().size());
    size_t slash = rest.find('/');
    std::string child = slash == std::string::npos ? rest : rest.substr(0, slash + 1);
    if (r->keys_size() == 0 || r->keys(r->keys_size() - 1) != child) r->add_keys(child);
  }
  return grpc::Status::OK;
}

grpc::Status MemStorage::Get(grpc::ServerContext*, const ::pb::StorageGetArgs* a, ::pb::StorageGetReply* r) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto it = m_.find(a->key()); it != m_.end()) {
    r->mutable_entry()->set_key(a->key());
    r->mutable_entry()->set_value(it->second);
  }
  return grpc::Status::OK;
}

grpc::Status MemStorage::Put(grpc::ServerContext*, const ::pb::StoragePutArgs* a, ::pb::StoragePutReply*) {
  std::lock_guard<std::mutex> l(mu_);
  m_[a->entry().key()] = a->entry().value();
  return grpc::Status::OK;
}

grpc::Status MemStorage::Delete(grpc::ServerContext*, const ::pb::StorageDeleteArgs* a, ::pb::StorageDeleteReply*) {
  std::lock_guard<std::mutex> l(mu_);
  m_.erase(a->key());
  return grpc::Status::OK;
}

size_t MemStorage::size() {
  std::lock_guard<std::mutex> l(mu_);
  return m_.size();
}

BrokerEndpoint::BrokerEndpoint(MemStorage* storage, const runtime::GeneratedCert* identity,
                               const std::string& trust_pem) {
  static std::atomic<int> counter{0};
  path_ = "/tmp/tc-broker-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1));
  unlink(path_.c_str());
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (identity != nullptr) {
    grpc::SslServerCredentialsOptions so(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    so.pem_root_certs = trust_pem;
    so.pem_key_cert_pairs.push_back({identity->key_pem, identity->cert_pem});
    creds = grpc::SslServerCredentials(so);
  }
  grpc::ServerBuilder b;
  b.AddListeningPort("unix:" + path_, creds);
  b.SetMaxReceiveMessageSize(INT32_MAX);
  b.SetMaxSendMessageSize(INT32_MAX);
  b.RegisterService(storage);
  server_ = b.BuildAndStart();
}

BrokerEndpoint::~BrokerEndpoint() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
  unlink(path_.c_str());
}

}  // namespace taskcred::test
