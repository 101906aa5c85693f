// Randomness from OpenSSL's CSPRNG.
//
// These never return an error: if the CSPRNG cannot produce bytes the process
// cannot safely mint anything, so they write one line to stderr and abort.
// That is the only abort in crypto/ and it never depends on request data.
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace taskcred::crypto {

// n bytes from RAND_bytes.
std::string RandomBytes(size_t n);
// Base64url (no padding) of RandomBytes(n_bytes): RandomToken(32) carries 256 bits.
std::string RandomToken(size_t n_bytes);
// RFC 4122 version 4 UUID, lowercase, "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx".
std::string NewUuid();
// RFC 9562 version 8 UUID whose first 32 bits are `prefix` (big-endian, so
// the text begins with its 8 hex digits) and whose other 90 free bits are
// random: "pppppppp-xxxx-8xxx-[89ab]xxx-xxxxxxxxxxxx". Ids minted for one
// prefix sort together and the prefix can be read back from the text.
std::string NewUuidV8(uint32_t prefix);
// True iff `s` is a UUID in canonical lowercase text form
// (8-4-4-4-12 lowercase hex digits), any version: what NewUuid returns.
bool IsUuid(std::string_view s);

}  // namespace taskcred::crypto
