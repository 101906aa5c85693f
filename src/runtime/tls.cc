#include "runtime/tls.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "crypto/encoding.h"

namespace taskcred::runtime {
namespace {

using common::Result;
using common::Status;

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

std::string OpenSslError(std::string_view what) {
  unsigned long e = ERR_get_error();
  char buf[256] = {0};
  if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return std::string(what) + (e != 0 ? std::string(": ") + buf : std::string());
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

Result<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return Status::Internal(OpenSslError("PEM-encoding a certificate"));
  return BioContents(bio.get());
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status::Internal(OpenSslError("PEM-encoding a private key"));
  }
  return BioContents(bio.get());
}

Result<std::string> CertDer(X509* cert) {
  int n = i2d_X509(cert, nullptr);
  if (n <= 0) return Status::Internal(OpenSslError("DER-encoding a certificate"));
  std::string der(static_cast<size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509(cert, &p) != n) return Status::Internal(OpenSslError("DER-encoding a certificate"));
  return der;
}

Status AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return Status::Internal(OpenSslError(std::string("adding certificate extension ") + value));
  }
  return Status::Ok();
}

}  // namespace

std::string_view TlsModeName(TlsMode mode) {
  switch (mode) {
    case TlsMode::kPlaintext: return "plaintext";
    case TlsMode::kAutoMtls: return "automtls";
    case TlsMode::kLegacy: return "legacy-unwrap";
  }
  return "unknown";
}

Result<GeneratedCert> GenerateSelfSignedCert(KeyCurve curve) {
  PkeyPtr key(EVP_EC_gen(curve == KeyCurve::kP521 ? "P-521" : "P-256"));
  if (!key) return Status::Internal(OpenSslError("generating an EC key"));
  X509Ptr cert(X509_new());
  if (!cert) return Status::Internal(OpenSslError("allocating a certificate"));
  if (X509_set_version(cert.get(), 2) != 1) return Status::Internal(OpenSslError("setting version"));

  BnPtr serial(BN_new());
  // 128 random bits with the top bit clear: always positive and non-zero with
  // overwhelming probability; retry on the (2^-127) zero case.
  do {
    if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
      return Status::Internal(OpenSslError("drawing a serial number"));
    }
  } while (BN_is_zero(serial.get()));
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return Status::Internal(OpenSslError("setting the serial number"));
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -30) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 262980L * 3600L) == nullptr) {
    return Status::Internal(OpenSslError("setting validity"));
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("taskcred"), -1,
                                 -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return Status::Internal(OpenSslError("setting subject"));
  }
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return Status::Internal(OpenSslError("setting public key"));
  TC_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  TC_RETURN_IF_ERROR(AddExtension(cert.get(), NID_key_usage,
                                  "critical,digitalSignature,keyEncipherment,keyAgreement,keyCertSign"));
  TC_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth,clientAuth"));
  TC_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_alt_name, "DNS:localhost"));
  const EVP_MD* md = curve == KeyCurve::kP521 ? EVP_sha512() : EVP_sha256();
  if (X509_sign(cert.get(), key.get(), md) <= 0) return Status::Internal(OpenSslError("signing the certificate"));

  GeneratedCert out;
  TC_ASSIGN_OR_RETURN(out.cert_pem, CertPem(cert.get()));
  TC_ASSIGN_OR_RETURN(out.key_pem, KeyPem(key.get()));
  TC_ASSIGN_OR_RETURN(out.cert_der, CertDer(cert.get()));
  return out;
}

TlsMode ChooseTlsMode(const EnvGetter& env) {
  bool metadata = false, automtls = false;
  if (auto v = LookupBaoOrVault(env, "PLUGIN_METADATA_MODE")) ParseGoBool(*v, &metadata);
  if (auto v = LookupBaoOrVault(env, "PLUGIN_AUTOMTLS_ENABLED")) ParseGoBool(*v, &automtls);
  auto client_cert = env("PLUGIN_CLIENT_CERT");
  bool have_cert = client_cert && !client_cert->empty();
  if (metadata || automtls) return have_cert ? TlsMode::kAutoMtls : TlsMode::kPlaintext;
  // Hosts that set neither flag but hand us a client cert (plain go-plugin
  // clients with AutoMTLS, e.g. the interop host) also get AutoMTLS.
  bool have_token = LookupBaoOrVault(env, "UNWRAP_TOKEN").has_value();
  if (have_cert && !have_token) return TlsMode::kAutoMtls;
  return TlsMode::kLegacy;
}

Result<std::string> UnwrapTokenAddr(std::string_view jwt) {
  if (jwt.empty()) {
    return Status::InvalidArgument("no unwrap token found (BAO_UNWRAP_TOKEN / VAULT_UNWRAP_TOKEN are unset)");
  }
  size_t dot1 = jwt.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot1 == std::string_view::npos || dot2 == std::string_view::npos ||
      jwt.find('.', dot2 + 1) != std::string_view::npos) {
    return Status::InvalidArgument("the unwrap token is not a JWT (expected header.payload.signature)");
  }
  std::string_view payload_b64 = jwt.substr(dot1 + 1, dot2 - dot1 - 1);
  // Tolerate padding some encoders add.
  while (!payload_b64.empty() && payload_b64.back() == '=') payload_b64.remove_suffix(1);
  auto payload = crypto::Base64UrlDecode(payload_b64);
  if (!payload.ok()) return Status::InvalidArgument("the unwrap token payload is not valid base64url");
  auto claims = nlohmann::json::parse(*payload, nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) {
    return Status::InvalidArgument("the unwrap token payload is not a JSON object");
  }
  auto it = claims.find("addr");
  if (it == claims.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Status::InvalidArgument("no vault api_addr found in the unwrap token; set api_addr on the Vault server");
  }
  return it->get<std::string>();
}

Result<ApiClientFlags> ParseApiClientFlags(const std::vector<std::string>& args) {
  ApiClientFlags out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a.size() < 2 || a[0] != '-') break;  // first non-flag argument ends parsing
    if (a == "--") break;
    a.remove_prefix(a[1] == '-' ? 2 : 1);
    if (a.empty() || a[0] == '-' || a[0] == '=') return Status::InvalidArgument("bad flag syntax: " + args[i]);
    std::string name(a.substr(0, a.find('=')));
    std::optional<std::string> value;
    if (size_t eq = a.find('='); eq != std::string_view::npos) value = std::string(a.substr(eq + 1));
    if (name == "tls-skip-verify") {
      if (!value) {
        out.tls_skip_verify = true;
      } else if (!ParseGoBool(*value, &out.tls_skip_verify)) {
        return Status::InvalidArgument("invalid boolean value \"" + *value + "\" for -tls-skip-verify");
      }
      continue;
    }
    std::string* target = nullptr;
    if (name == "ca-cert") target = &out.ca_cert;
    else if (name == "ca-path") target = &out.ca_path;
    else if (name == "client-cert") target = &out.client_cert;
    else if (name == "client-key") target = &out.client_key;
    else if (name == "tls-server-name") target = &out.tls_server_name;
    else return Status::InvalidArgument("flag provided but not defined: -" + name);
    if (!value) {
      if (i + 1 >= args.size()) return Status::InvalidArgument("flag needs an argument: -" + name);
      value = args[++i];
    }
    *target = *value;
  }
  return out;
}

Result<ApiTlsConfig> ApiTlsConfigFrom(const EnvGetter& env, const ApiClientFlags& flags) {
  ApiTlsConfig c;
  auto get = [&](std::string_view suffix) { return LookupBaoOrVault(env, suffix).value_or(""); };
  c.ca_cert_file = get("CACERT");
  c.ca_cert_pem = get("CACERT_BYTES");
  c.ca_path = get("CAPATH");
  c.client_cert_file = get("CLIENT_CERT");
  c.client_cert_pem = get("CLIENT_CERT_BYTES");
  c.client_key_file = get("CLIENT_KEY");
  c.client_key_pem = get("CLIENT_KEY_BYTES");
  c.server_name = get("TLS_SERVER_NAME");
  c.namespace_header = get("NAMESPACE");
  if (auto v = LookupBaoOrVault(env, "SKIP_VERIFY"); v && !v->empty()) {
    if (!ParseGoBool(*v, &c.skip_verify)) return Status::InvalidArgument("could not parse VAULT_SKIP_VERIFY");
  }
  if (!flags.ca_cert.empty()) c.ca_cert_file = flags.ca_cert, c.ca_cert_pem.clear();
  if (!flags.ca_path.empty()) c.ca_path = flags.ca_path;
  if (!flags.client_cert.empty()) c.client_cert_file = flags.client_cert, c.client_cert_pem.clear();
  if (!flags.client_key.empty()) c.client_key_file = flags.client_key, c.client_key_pem.clear();
  if (flags.tls_skip_verify) c.skip_verify = true;
  if (!flags.tls_server_name.empty()) c.server_name = flags.tls_server_name;
  bool have_cert = !c.client_cert_file.empty() || !c.client_cert_pem.empty();
  bool have_key = !c.client_key_file.empty() || !c.client_key_pem.empty();
  if (have_cert != have_key) {
    return Status::InvalidArgument("both client cert and client key must be provided (-client-cert, -client-key)");
  }
  return c;
}

Result<std::string> CertCommonName(std::string_view cert_pem) {
  BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Status::InvalidArgument(OpenSslError("parsing a PEM certificate"));
  char cn[256] = {0};
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn));
  ERR_clear_error();
  return n > 0 ? std::string(cn, static_cast<size_t>(n)) : std::string();
}

Result<TlsMaterial> ParseUnwrapResponse(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Internal("the unwrap response is not a JSON object");
  auto data = j.find("data");
  if (data == j.end() || !data->is_object()) return Status::Internal("the unwrap response has no data object");
  auto field = [&](const char* name) -> Result<std::string> {
    auto it = data->find(name);
    if (it == data->end() || !it->is_string()) {
      return Status::Internal(std::string("the unwrap response has no string data.") + name);
    }
    auto raw = crypto::Base64Decode(it->get<std::string>());
    if (!raw.ok()) return Status::Internal(std::string("data.") + name + " is not valid base64");
    return std::move(raw).value();
  };
  TC_ASSIGN_OR_RETURN(std::string cert_der, field("ServerCert"));
  TC_ASSIGN_OR_RETURN(std::string key_der, field("ServerKey"));
  const auto* p = reinterpret_cast<const unsigned char*>(cert_der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(cert_der.size())));
  if (!cert) return Status::Internal(OpenSslError("data.ServerCert is not a DER certificate"));
  const auto* k = reinterpret_cast<const unsigned char*>(key_der.data());
  PkeyPtr key(d2i_PrivateKey(EVP_PKEY_EC, nullptr, &k, static_cast<long>(key_der.size())));
  if (!key) return Status::Internal(OpenSslError("data.ServerKey is not a SEC1 EC private key"));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Status::Internal(OpenSslError("data.ServerKey does not match data.ServerCert"));
  }
  TlsMaterial m;
  TC_ASSIGN_OR_RETURN(m.cert_pem, CertPem(cert.get()));
  TC_ASSIGN_OR_RETURN(m.key_pem, KeyPem(key.get()));
  m.cert_der = cert_der;
  m.trust_pem = m.cert_pem;
  TC_ASSIGN_OR_RETURN(m.broker_server_name, CertCommonName(m.cert_pem));
  return m;
}

Result<ApiAddr> ParseApiAddr(std::string_view addr) {
  ApiAddr out;
  std::string_view rest;
  if (addr.rfind("https://", 0) == 0) {
    out.https = true;
    rest = addr.substr(8);
  } else if (addr.rfind("http://", 0) == 0) {
    rest = addr.substr(7);
  } else {
    return Status::InvalidArgument("the api_addr in the unwrap token must start with http:// or https://");
  }
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.base_path = std::string(rest.substr(slash));
  while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  if (!hostport.empty() && hostport.front() == '[') {  // [v6]:port
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("bad IPv6 host in api_addr");
    out.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty() && after.front() != ':') return Status::InvalidArgument("bad IPv6 host in api_addr");
    if (!after.empty()) out.port = std::string(after.substr(1));
  } else {
    size_t colon = hostport.rfind(':');
    out.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(hostport.substr(colon + 1));
  }
  if (out.host.empty()) return Status::InvalidArgument("the api_addr in the unwrap token has no host");
  if (hostport.front() != '[' &&
      out.host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
          std::string::npos) {
    return Status::InvalidArgument("the api_addr in the unwrap token has an invalid host");
  }
  if (out.port.empty()) out.port = out.https ? "443" : "80";
  int port = 0;
  bool digits = out.port.size() <= 5 && out.port.find_first_not_of("0123456789") == std::string::npos;
  if (digits) port = std::stoi(out.port);
  if (!digits || port < 1 || port > 65535) {
    return Status::InvalidArgument("the api_addr in the unwrap token has an invalid port (1-65535)");
  }
  return out;
}

}  // namespace taskcred::runtime
