#include "crypto/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

#include "crypto/encoding.h"

namespace taskcred::crypto {

std::string Sha256(std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure or a broken provider; there
  // is nothing sensible to return then.
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len, EVP_sha256(),
                 nullptr) != 1 ||
      len != 32) {
    std::fputs("taskcred: fatal: SHA-256 failed\n", stderr);
    std::abort();
  }
  return out;
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace taskcred::crypto
