#include "harness/certs.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>
#include <memory>

namespace taskcred::test {
namespace {

using common::Result;
using common::Status;

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

Status OpenSslError(std::string_view what) {
  char buf[256] = {0};
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  ERR_clear_error();
  return Status::Internal(std::string(what) + ": " + buf);
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<KeyPtr> NewEcKey(const char* curve) {
  KeyPtr key(EVP_EC_gen(curve));
  if (!key) return OpenSslError("EVP_EC_gen");
  return key;
}

struct Profile {
  std::string cn;
  std::string org;          // empty = none
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  bool ca_ext = false;      // basicConstraints critical CA:TRUE
  bool key_cert_sign = false;
  bool eku_client = true;
  bool eku_server = true;
  const char* curve = "P-521";
  const EVP_MD* md = nullptr;  // default sha512
};

Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return OpenSslError("X509V3_EXT_conf_nid " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return Status::Ok();
}

// Signs with `signer_key`/`issuer` (nullptr = self-signed).
Result<CertKey> MakeCert(const Profile& p, const CertKey* issuer_ck) {
  TC_ASSIGN_OR_RETURN(KeyPtr key, NewEcKey(p.curve));
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  // Positive 128-bit serial.
  unsigned char serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof serial_bytes);
  serial_bytes[0] &= 0x7f;
  serial_bytes[0] |= 0x01;
  BIGNUM* bn = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -30);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 262980L * 3600L);

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!p.org.empty()) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(p.org.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(p.cn.c_str()), -1, -1, 0);
  X509_set_pubkey(cert.get(), key.get());

  X509Ptr issuer_cert;
  KeyPtr issuer_key;
  if (issuer_ck != nullptr) {
    BioPtr cb(BIO_new_mem_buf(issuer_ck->cert_pem.data(), static_cast<int>(issuer_ck->cert_pem.size())));
    issuer_cert.reset(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
    BioPtr kb(BIO_new_mem_buf(issuer_ck->key_pem.data(), static_cast<int>(issuer_ck->key_pem.size())));
    issuer_key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    if (!issuer_cert || !issuer_key) return OpenSslError("reading issuer");
    X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert.get()));
  } else {
    X509_set_issuer_name(cert.get(), name);
  }
  X509* iss = issuer_cert ? issuer_cert.get() : cert.get();

  if (p.ca_ext) TC_RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE"));
  std::string ku = "critical,digitalSignature,keyEncipherment,keyAgreement";
  if (p.key_cert_sign) ku += ",keyCertSign";
  TC_RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_key_usage, ku));
  std::string eku;
  if (p.eku_client) eku = "clientAuth";
  if (p.eku_server) eku += std::string(eku.empty() ? "" : ",") + "serverAuth";
  if (!eku.empty()) TC_RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_ext_key_usage, eku));
  std::string san;
  for (const auto& d : p.dns) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
  for (const auto& ip : p.ips) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  if (!san.empty()) TC_RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_subject_alt_name, san));

  EVP_PKEY* sign_key = issuer_key ? issuer_key.get() : key.get();
  if (X509_sign(cert.get(), sign_key, p.md != nullptr ? p.md : EVP_sha512()) <= 0) return OpenSslError("X509_sign");

  CertKey out;
  out.common_name = p.cn;
  unsigned char* der = nullptr;
  int n = i2d_X509(cert.get(), &der);
  if (n <= 0) return OpenSslError("i2d_X509");
  out.cert_der.assign(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  out.cert_pem = DerCertToPem(out.cert_der);
  BioPtr kb(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PrivateKey");
  }
  out.key_pem = BioString(kb.get());
  // SEC1 "EC PRIVATE KEY" DER (type-specific DER for EC keys).
  OSSL_ENCODER_CTX* ectx =
      OSSL_ENCODER_CTX_new_for_pkey(key.get(), OSSL_KEYMGMT_SELECT_KEYPAIR, "DER", "type-specific", nullptr);
  unsigned char* sec1 = nullptr;
  size_t sec1_len = 0;
  bool ok = ectx != nullptr && OSSL_ENCODER_to_data(ectx, &sec1, &sec1_len) == 1;
  OSSL_ENCODER_CTX_free(ectx);
  if (!ok) return OpenSslError("encoding SEC1 key");
  out.key_sec1_der.assign(reinterpret_cast<char*>(sec1), sec1_len);
  OPENSSL_free(sec1);
  return out;
}

}  // namespace

std::string DerCertToPem(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return "";
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  return BioString(bio.get());
}

std::string RandomUuid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

Result<CertKey> GenerateAutoMtlsCert() {
  Profile p;
  p.cn = "localhost";
  p.org = "HashiCorp";
  p.dns = {"localhost"};
  p.ca_ext = true;
  p.key_cert_sign = true;
  return MakeCert(p, nullptr);
}

Result<CertKey> GenerateLegacyTlsCert() {
  Profile p;
  p.cn = RandomUuid();
  p.dns = {p.cn};
  return MakeCert(p, nullptr);
}

Result<CertKey> GenerateTestCa(std::string_view cn) {
  Profile p;
  p.cn = std::string(cn);
  p.ca_ext = true;
  p.key_cert_sign = true;
  p.eku_client = p.eku_server = false;
  p.curve = "P-256";
  p.md = EVP_sha256();
  return MakeCert(p, nullptr);
}

Result<CertKey> IssueServerCert(const CertKey& ca, std::string_view cn) {
  Profile p;
  p.cn = std::string(cn);
  p.dns = {"localhost"};
  p.ips = {"127.0.0.1"};
  p.eku_client = false;
  p.curve = "P-256";
  p.md = EVP_sha256();
  return MakeCert(p, &ca);
}

Result<CertInfo> InspectCert(std::string_view der) {
  const auto* ptr = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &ptr, static_cast<long>(der.size())));
  if (!cert) return OpenSslError("d2i_X509");
  if (ptr != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return Status::InvalidArgument("trailing bytes after the certificate DER");
  }
  CertInfo info;
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key != nullptr) {
    info.key_type = EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "";
    char curve[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve, &len) == 1) {
      info.curve = curve;
    }
  }
  char cn[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn) > 0) info.subject_cn = cn;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_DNS) {
        info.dns_sans.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                                   static_cast<size_t>(ASN1_STRING_length(gn->d.dNSName)));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  uint32_t xku = X509_get_extended_key_usage(cert.get());
  info.eku_server_auth = (xku & XKU_SSL_SERVER) != 0;
  info.eku_client_auth = (xku & XKU_SSL_CLIENT) != 0;
  uint32_t ku = X509_get_key_usage(cert.get());
  info.key_cert_sign = ku != UINT32_MAX && (ku & KU_KEY_CERT_SIGN) != 0;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(cert.get(), NID_basic_constraints, nullptr, nullptr));
  if (bc != nullptr) {
    info.is_ca = bc->ca != 0;
    BASIC_CONSTRAINTS_free(bc);
  }
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert.get()));
  info.seconds_valid_from_now = days * 86400L + secs;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert.get()), nullptr);
  info.seconds_since_not_before = days * 86400L + secs;
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  info.serial_positive = bn != nullptr && !BN_is_negative(bn) && !BN_is_zero(bn);
  BN_free(bn);
  return info;
}

}  // namespace taskcred::test
