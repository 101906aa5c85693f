#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "crypto/encoding.h"

namespace taskcred::crypto {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    size_t chunk = std::min<size_t>(n - done, INT_MAX);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), static_cast<int>(chunk)) != 1) {
      std::fputs("taskcred: fatal: the OpenSSL CSPRNG failed\n", stderr);
      std::abort();
    }
    done += chunk;
  }
  return out;
}

std::string RandomToken(size_t n_bytes) { return Base64UrlEncode(RandomBytes(n_bytes)); }

namespace {

// Sets the version nibble and the RFC 4122 variant bits, then formats.
std::string FormatUuid(std::string b, unsigned version) {
  b[6] = static_cast<char>((static_cast<unsigned char>(b[6]) & 0x0f) | (version << 4));
  b[8] = static_cast<char>((static_cast<unsigned char>(b[8]) & 0x3f) | 0x80);
  std::string hex = HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

}  // namespace

std::string NewUuid() { return FormatUuid(RandomBytes(16), 4); }

std::string NewUuidV8(uint32_t prefix) {
  std::string b = RandomBytes(16);
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((prefix >> (24 - 8 * i)) & 0xff);
  return FormatUuid(std::move(b), 8);
}

}  // namespace taskcred::crypto

namespace taskcred::crypto {

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (dash_position ? c != '-' : !hex) return false;
  }
  return true;
}

}  // namespace taskcred::crypto
