#include "crypto/openssl_util.h"

#include <openssl/err.h>

#include <vector>

namespace taskcred::crypto::internal {

std::string DrainErrors() {
  std::string first;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    if (first.empty()) {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof(buf));
      first = buf;
    }
  }
  return first;
}

common::Status OpenSslError(std::string_view what) {
  std::string detail = DrainErrors();
  std::string msg(what);
  if (!detail.empty()) msg += ": " + detail;
  return common::Status::Internal(std::move(msg));
}

std::string BignumToBytes(const BIGNUM* bn) {
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  if (!out.empty()) BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string BignumToPaddedBytes(const BIGNUM* bn, size_t len) {
  std::string out(len, '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(len)) < 0) {
    DrainErrors();
    return "";
  }
  return out;
}

BignumPtr BytesToBignum(std::string_view bytes) {
  return BignumPtr(BN_bin2bn(Uchar(bytes), static_cast<int>(bytes.size()), nullptr));
}

}  // namespace taskcred::crypto::internal
