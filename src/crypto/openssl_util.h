// Internal to src/crypto: RAII owners for OpenSSL objects and error text.
//
// Not part of the public API; only crypto/*.cc include this header. Every
// owner is a std::unique_ptr with the matching OpenSSL free function, so no
// code path can leak an object on an early return.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace taskcred::crypto::internal {

template <auto FreeFn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using OsslParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using OsslParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

// Drains OpenSSL's thread-local error queue and returns its first entry as
// text ("" when empty). Call after every failed OpenSSL call so a stale error
// never shows up in a later, unrelated message.
std::string DrainErrors();

// Status::Internal("<what>: <openssl error>"), draining the error queue.
common::Status OpenSslError(std::string_view what);

// Big-endian unsigned bytes of `bn` without leading zeros ("" for zero).
std::string BignumToBytes(const BIGNUM* bn);
// Big-endian bytes of `bn` left-padded to exactly `len`; "" if it does not fit.
std::string BignumToPaddedBytes(const BIGNUM* bn, size_t len);
BignumPtr BytesToBignum(std::string_view bytes);

inline const unsigned char* Uchar(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace taskcred::crypto::internal
