#include "crypto/signing_key.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <array>
#include <utility>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/openssl_util.h"

namespace taskcred::crypto {
namespace internal {

// The OpenSSL key plus its public JWK members, computed once at load time so
// that Jwk() and Thumbprint() cannot fail later. Immutable after creation.
struct KeyHandle {
  EvpPkeyPtr pkey;
  // Required public members only (RFC 7638 set): kty, crv, x, y / n, e.
  nlohmann::json members;
  // Private keys: a DigestSign context set up once (algorithm fetched,
  // padding chosen) and copied for each signature. Setting one up afresh
  // costs more than an Ed25519 signature's tenth (OpenSSL 3.0 looks the
  // algorithm up by name every time). Never used in place.
  EvpMdCtxPtr signer;
};

}  // namespace internal

namespace {

using common::Result;
using common::Status;
using internal::BignumPtr;
using internal::EvpPkeyPtr;

constexpr size_t kP256CoordBytes = 32;
constexpr size_t kEd25519KeyBytes = 32;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr size_t kMaxPemBytes = 64 * 1024;

Result<std::string> BnParam(EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return internal::OpenSslError("reading key parameter");
  BignumPtr bn(raw);
  return internal::BignumToBytes(bn.get());
}

bool IsP256(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "EC") != 1) return false;
  char name[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1) {
    internal::DrainErrors();
    return false;
  }
  std::string_view group(name, len);
  return group == "prime256v1" || group == "P-256";
}

// Checks that `pkey` is the key type `alg` needs and extracts the JWK members.
const EVP_MD* DigestFor(Algorithm alg) { return alg == Algorithm::kEdDSA ? nullptr : EVP_sha256(); }

enum class KeyPart { kPublic, kPrivate };

Result<std::shared_ptr<const internal::KeyHandle>> MakeHandle(Algorithm alg, EvpPkeyPtr pkey, KeyPart part) {
  auto handle = std::make_shared<internal::KeyHandle>();
  EVP_PKEY* k = pkey.get();
  switch (alg) {
    case Algorithm::kEdDSA: {
      if (EVP_PKEY_is_a(k, "ED25519") != 1) return Status::InvalidArgument("key is not an Ed25519 key (EdDSA)");
      std::array<unsigned char, kEd25519KeyBytes> x{};
      size_t len = x.size();
      if (EVP_PKEY_get_raw_public_key(k, x.data(), &len) != 1 || len != x.size()) {
        return internal::OpenSslError("reading Ed25519 public key");
      }
      handle->members = {{"kty", "OKP"},
                         {"crv", "Ed25519"},
                         {"x", Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(x.data()), len))}};
      break;
    }
    case Algorithm::kES256: {
      if (!IsP256(k)) return Status::InvalidArgument("key is not a P-256 EC key (ES256)");
      TC_ASSIGN_OR_RETURN(std::string x, BnParam(k, OSSL_PKEY_PARAM_EC_PUB_X));
      TC_ASSIGN_OR_RETURN(std::string y, BnParam(k, OSSL_PKEY_PARAM_EC_PUB_Y));
      if (x.size() > kP256CoordBytes || y.size() > kP256CoordBytes) {
        return Status::Internal("P-256 coordinate longer than 32 bytes");
      }
      // RFC 7518 §6.2.1.2: coordinates are the full 32 bytes, leading zeros kept.
      x.insert(0, kP256CoordBytes - x.size(), '\0');
      y.insert(0, kP256CoordBytes - y.size(), '\0');
      handle->members = {{"kty", "EC"}, {"crv", "P-256"}, {"x", Base64UrlEncode(x)}, {"y", Base64UrlEncode(y)}};
      break;
    }
    case Algorithm::kRS256: {
      if (EVP_PKEY_is_a(k, "RSA") != 1) return Status::InvalidArgument("key is not an RSA key (RS256)");
      int bits = EVP_PKEY_get_bits(k);
      if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        return Status::InvalidArgument("RSA key must have 2048 to 8192 bits");
      }
      TC_ASSIGN_OR_RETURN(std::string n, BnParam(k, OSSL_PKEY_PARAM_RSA_N));
      TC_ASSIGN_OR_RETURN(std::string e, BnParam(k, OSSL_PKEY_PARAM_RSA_E));
      // BignumToBytes already yields the minimal encoding (RFC 7518 §6.3.1).
      handle->members = {{"kty", "RSA"}, {"n", Base64UrlEncode(n)}, {"e", Base64UrlEncode(e)}};
      break;
    }
  }
  if (part == KeyPart::kPrivate) {
    handle->signer.reset(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (!handle->signer || EVP_DigestSignInit(handle->signer.get(), &pctx, DigestFor(alg), nullptr, k) != 1) {
      return internal::OpenSslError("initialising signature");
    }
    if (alg == Algorithm::kRS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
      return internal::OpenSslError("selecting RSA padding");
    }
  }
  handle->pkey = std::move(pkey);
  return std::shared_ptr<const internal::KeyHandle>(std::move(handle));
}

// DER ECDSA-Sig-Value -> 64-byte R||S.
Result<std::string> DerToRaw(std::string_view der) {
  const unsigned char* p = internal::Uchar(der);
  internal::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return internal::OpenSslError("decoding ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string rr = internal::BignumToPaddedBytes(r, kP256CoordBytes);
  std::string ss = internal::BignumToPaddedBytes(s, kP256CoordBytes);
  if (rr.empty() || ss.empty()) return Status::Internal("ECDSA signature component too long");
  return rr + ss;
}

// 64-byte R||S -> DER, or "" if the input cannot be a P-256 signature.
std::string RawToDer(std::string_view raw) {
  if (raw.size() != 2 * kP256CoordBytes) return "";
  BignumPtr r = internal::BytesToBignum(raw.substr(0, kP256CoordBytes));
  BignumPtr s = internal::BytesToBignum(raw.substr(kP256CoordBytes));
  internal::EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig) return "";
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return "";
  r.release();  // now owned by sig
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return "";
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return "";
  return der;
}

// Reads a base64url JWK member that must be a string; `what` names it in errors.
Result<std::string> JwkBytes(const nlohmann::json& jwk, const char* member) {
  auto it = jwk.find(member);
  if (it == jwk.end() || !it->is_string()) {
    return Status::InvalidArgument(std::string("jwk: \"") + member + "\" must be a string");
  }
  auto bytes = Base64UrlDecode(it->get_ref<const std::string&>());
  if (!bytes.ok()) {
    return Status::InvalidArgument(std::string("jwk: \"") + member + "\" is not valid base64url");
  }
  return std::move(bytes).value();
}

Result<EvpPkeyPtr> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  internal::OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  internal::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return internal::OpenSslError("importing key");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    internal::DrainErrors();
    return Status::InvalidArgument("jwk: not a valid public key");
  }
  EvpPkeyPtr pkey(raw);
  internal::EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    internal::DrainErrors();
    return Status::InvalidArgument("jwk: not a valid public key");
  }
  return pkey;
}

Result<EvpPkeyPtr> EcFromJwk(const nlohmann::json& jwk) {
  TC_ASSIGN_OR_RETURN(std::string x, JwkBytes(jwk, "x"));
  TC_ASSIGN_OR_RETURN(std::string y, JwkBytes(jwk, "y"));
  if (x.size() != kP256CoordBytes || y.size() != kP256CoordBytes) {
    return Status::InvalidArgument("jwk: P-256 \"x\" and \"y\" must be exactly 32 bytes");
  }
  std::string point = "\x04" + x + y;
  internal::OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return internal::OpenSslError("building EC parameters");
  }
  return FromParams("EC", bld.get());
}

Result<EvpPkeyPtr> RsaFromJwk(const nlohmann::json& jwk) {
  TC_ASSIGN_OR_RETURN(std::string n, JwkBytes(jwk, "n"));
  TC_ASSIGN_OR_RETURN(std::string e, JwkBytes(jwk, "e"));
  if (n.empty() || n[0] == '\0' || e.empty() || e[0] == '\0') {
    return Status::InvalidArgument("jwk: RSA \"n\" and \"e\" must be non-empty without leading zero octets");
  }
  if (n.size() * 8 < static_cast<size_t>(kMinRsaBits) - 7 || n.size() * 8 > static_cast<size_t>(kMaxRsaBits)) {
    return Status::InvalidArgument("jwk: RSA modulus must have 2048 to 8192 bits");
  }
  if (e.size() > 8 || (static_cast<unsigned char>(e.back()) & 1) == 0 || (e.size() == 1 && e[0] < 3)) {
    return Status::InvalidArgument("jwk: RSA exponent \"e\" must be odd, >= 3 and at most 64 bits");
  }
  BignumPtr bn_n = internal::BytesToBignum(n);
  BignumPtr bn_e = internal::BytesToBignum(e);
  internal::OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return internal::OpenSslError("building RSA parameters");
  }
  return FromParams("RSA", bld.get());
}

}  // namespace

std::string_view AlgorithmName(Algorithm alg) {
  switch (alg) {
    case Algorithm::kEdDSA: return "EdDSA";
    case Algorithm::kES256: return "ES256";
    case Algorithm::kRS256: return "RS256";
  }
  return "unknown";
}

Result<Algorithm> ParseAlgorithm(std::string_view name) {
  for (Algorithm alg : {Algorithm::kEdDSA, Algorithm::kES256, Algorithm::kRS256}) {
    if (name == AlgorithmName(alg)) return alg;
  }
  return Status::InvalidArgument("unsupported algorithm: must be one of EdDSA, ES256, RS256");
}

// ---- PublicKey ----

Result<PublicKey> PublicKey::FromJwk(const nlohmann::json& jwk) {
  if (!jwk.is_object()) return Status::InvalidArgument("jwk: must be a JSON object");
  for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.contains(secret)) {
      return Status::InvalidArgument(std::string("jwk: private member \"") + secret + "\" is not allowed");
    }
  }
  auto kty_it = jwk.find("kty");
  if (kty_it == jwk.end() || !kty_it->is_string()) return Status::InvalidArgument("jwk: \"kty\" must be a string");
  const std::string& kty = kty_it->get_ref<const std::string&>();
  auto crv_it = jwk.find("crv");
  std::string crv = (crv_it != jwk.end() && crv_it->is_string()) ? crv_it->get<std::string>() : "";

  Algorithm alg;
  EvpPkeyPtr pkey;
  if (kty == "OKP") {
    if (crv != "Ed25519") return Status::InvalidArgument("jwk: OKP \"crv\" must be Ed25519");
    TC_ASSIGN_OR_RETURN(std::string x, JwkBytes(jwk, "x"));
    if (x.size() != kEd25519KeyBytes) return Status::InvalidArgument("jwk: Ed25519 \"x\" must be exactly 32 bytes");
    pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, internal::Uchar(x), x.size()));
    if (!pkey) {
      internal::DrainErrors();
      return Status::InvalidArgument("jwk: not a valid Ed25519 public key");
    }
    alg = Algorithm::kEdDSA;
  } else if (kty == "EC") {
    if (crv != "P-256") return Status::InvalidArgument("jwk: EC \"crv\" must be P-256");
    TC_ASSIGN_OR_RETURN(pkey, EcFromJwk(jwk));
    alg = Algorithm::kES256;
  } else if (kty == "RSA") {
    TC_ASSIGN_OR_RETURN(pkey, RsaFromJwk(jwk));
    alg = Algorithm::kRS256;
  } else {
    return Status::InvalidArgument("jwk: \"kty\" must be OKP, EC or RSA");
  }

  if (auto it = jwk.find("alg"); it != jwk.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>() != AlgorithmName(alg)) {
      return Status::InvalidArgument("jwk: \"alg\" must be " + std::string(AlgorithmName(alg)) + " for this key type");
    }
  }
  if (auto it = jwk.find("use"); it != jwk.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>() != "sig") {
      return Status::InvalidArgument("jwk: \"use\" must be \"sig\"");
    }
  }
  if (auto it = jwk.find("key_ops"); it != jwk.end()) {
    bool verify = false;
    if (it->is_array()) {
      for (const auto& op : *it) verify = verify || (op.is_string() && op.get_ref<const std::string&>() == "verify");
    }
    if (!verify) return Status::InvalidArgument("jwk: \"key_ops\" must contain \"verify\"");
  }
  TC_ASSIGN_OR_RETURN(auto handle, MakeHandle(alg, std::move(pkey), KeyPart::kPublic));
  return PublicKey(alg, std::move(handle));
}

Algorithm PublicKey::algorithm() const { return alg_; }

nlohmann::json PublicKey::Jwk(std::string_view kid) const {
  nlohmann::json jwk = key_->members;
  jwk["kid"] = std::string(kid);
  jwk["alg"] = std::string(AlgorithmName(alg_));
  jwk["use"] = "sig";
  return jwk;
}

std::string PublicKey::Thumbprint() const {
  // RFC 7638 §3: required members only, lexicographic order, no whitespace.
  // Every value is base64url or a fixed name, so no JSON escaping is needed.
  const nlohmann::json& m = key_->members;
  auto s = [&](const char* k) { return "\"" + std::string(k) + "\":\"" + m.at(k).get<std::string>() + "\""; };
  std::string canonical;
  switch (alg_) {
    case Algorithm::kEdDSA: canonical = "{" + s("crv") + "," + s("kty") + "," + s("x") + "}"; break;
    case Algorithm::kES256: canonical = "{" + s("crv") + "," + s("kty") + "," + s("x") + "," + s("y") + "}"; break;
    case Algorithm::kRS256: canonical = "{" + s("e") + "," + s("kty") + "," + s("n") + "}"; break;
  }
  return Base64UrlEncode(Sha256(canonical));
}

Status PublicKey::Verify(std::string_view data, std::string_view signature) const {
  static const Status kBad = Status::PermissionDenied("signature does not verify");
  EVP_PKEY* pkey = key_->pkey.get();
  std::string der;
  std::string_view sig = signature;
  switch (alg_) {
    case Algorithm::kEdDSA:
      if (signature.size() != 64) return kBad;
      break;
    case Algorithm::kES256:
      der = RawToDer(signature);
      if (der.empty()) {
        internal::DrainErrors();
        return kBad;
      }
      sig = der;
      break;
    case Algorithm::kRS256:
      if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(pkey))) return kBad;
      break;
  }
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, DigestFor(alg_), nullptr, pkey) != 1) {
    return internal::OpenSslError("initialising verification");
  }
  if (alg_ == Algorithm::kRS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return internal::OpenSslError("selecting RSA padding");
  }
  int rc = EVP_DigestVerify(ctx.get(), internal::Uchar(sig), sig.size(), internal::Uchar(data), data.size());
  if (rc != 1) {
    internal::DrainErrors();
    return kBad;
  }
  return Status::Ok();
}

// ---- SigningKey ----

Result<SigningKey> SigningKey::Generate(Algorithm alg) {
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case Algorithm::kEdDSA: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    case Algorithm::kES256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case Algorithm::kRS256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)); break;
  }
  if (raw == nullptr) return internal::OpenSslError("generating key");
  TC_ASSIGN_OR_RETURN(auto handle, MakeHandle(alg, EvpPkeyPtr(raw), KeyPart::kPrivate));
  return SigningKey(alg, std::move(handle));
}

Result<SigningKey> SigningKey::FromPrivatePem(Algorithm alg, std::string_view pem) {
  if (pem.empty() || pem.size() > kMaxPemBytes) {
    return Status::InvalidArgument("private key PEM must be 1 to 65536 bytes");
  }
  internal::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return internal::OpenSslError("reading PEM");
  // A password callback that always fails: encrypted PEM is refused rather
  // than prompting on a terminal.
  pem_password_cb* no_password = [](char*, int, int, void*) -> int { return -1; };
  EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  if (!pkey) {
    internal::DrainErrors();
    return Status::InvalidArgument("not a PEM private key (or it is encrypted)");
  }
  TC_ASSIGN_OR_RETURN(auto handle, MakeHandle(alg, std::move(pkey), KeyPart::kPrivate));
  return SigningKey(alg, std::move(handle));
}

std::string SigningKey::PrivatePem() const {
  internal::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    internal::DrainErrors();
    return "";
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return "";
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> SigningKey::Sign(std::string_view data) const {
  EVP_PKEY* pkey = key_->pkey.get();
  // A copy of the prepared context (KeyHandle::signer): copies share
  // nothing mutable, so concurrent signers need no lock.
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), key_->signer.get()) != 1) {
    return internal::OpenSslError("initialising signature");
  }
  int max = EVP_PKEY_get_size(pkey);
  if (max <= 0) return internal::OpenSslError("querying signature size");
  std::string sig(static_cast<size_t>(max), '\0');
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, internal::Uchar(data),
                     data.size()) != 1) {
    return internal::OpenSslError("signing");
  }
  sig.resize(len);
  if (alg_ == Algorithm::kES256) return DerToRaw(sig);
  return sig;
}

}  // namespace taskcred::crypto
