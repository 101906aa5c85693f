// Byte <-> text encodings used by JOSE and by storage.
//
// All decoders are strict: they refuse padding where the encoding has none,
// characters outside the alphabet, impossible lengths and non-canonical
// trailing bits, so every byte string has exactly one accepted encoding
// (a JWT cannot be re-encoded into a second accepted form). Errors are
// kInvalidArgument and never echo the input.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace taskcred::crypto {

// RFC 4648 §5 base64url without padding.
std::string Base64UrlEncode(std::string_view bytes);
// Inverse of Base64UrlEncode: rejects '=', '+', '/', whitespace, a length of
// 1 mod 4 and non-zero unused trailing bits.
common::Result<std::string> Base64UrlDecode(std::string_view s);

// RFC 4648 §4 standard alphabet with '=' padding.
std::string Base64Encode(std::string_view bytes);
// Requires a multiple-of-4 length with correct padding; rejects whitespace
// and non-canonical trailing bits.
common::Result<std::string> Base64Decode(std::string_view s);

// Lowercase hex.
std::string HexEncode(std::string_view bytes);
// Accepts upper- or lowercase hex of even length.
common::Result<std::string> HexDecode(std::string_view s);

}  // namespace taskcred::crypto
