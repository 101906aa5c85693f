// Digests and comparison of secrets.
#pragma once

#include <string>
#include <string_view>

namespace taskcred::crypto {

// SHA-256 of `data`: 32 raw bytes.
std::string Sha256(std::string_view data);
// Lowercase hex of Sha256(data): 64 characters.
std::string Sha256Hex(std::string_view data);

// True iff a and b are equal. Runs in time independent of the contents when
// the lengths are equal (CRYPTO_memcmp); a length difference returns false
// at once, so compare fixed-length values (e.g. hashes) when the length
// itself is secret.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace taskcred::crypto
