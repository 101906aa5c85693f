#include "crypto/encoding.h"

#include <array>
#include <cstdint>

namespace taskcred::crypto {
namespace {

constexpr std::string_view kStdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Encode(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

using DecodeTable = std::array<int8_t, 256>;

constexpr DecodeTable MakeTable(std::string_view alphabet) {
  DecodeTable t{};
  for (auto& v : t) v = -1;
  for (size_t i = 0; i < alphabet.size(); ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}

constexpr DecodeTable kStdTable = MakeTable(kStdAlphabet);
constexpr DecodeTable kUrlTable = MakeTable(kUrlAlphabet);

// Decodes unpadded base64 text `s` with `table`; `name` is used in errors.
common::Result<std::string> DecodeUnpadded(std::string_view s, const DecodeTable& table, std::string_view name) {
  if (s.size() % 4 == 1) {
    return common::Status::InvalidArgument(std::string(name) + ": invalid length");
  }
  std::string out;
  out.reserve(s.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int8_t v = table[static_cast<unsigned char>(c)];
    if (v < 0) return common::Status::InvalidArgument(std::string(name) + ": invalid character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits (2 or 4) must be zero: otherwise several texts would decode
  // to the same bytes.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return common::Status::InvalidArgument(std::string(name) + ": non-canonical trailing bits");
  }
  return out;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) { return Encode(bytes, kUrlAlphabet, false); }

common::Result<std::string> Base64UrlDecode(std::string_view s) { return DecodeUnpadded(s, kUrlTable, "base64url"); }

std::string Base64Encode(std::string_view bytes) { return Encode(bytes, kStdAlphabet, true); }

common::Result<std::string> Base64Decode(std::string_view s) {
  if (s.size() % 4 != 0) return common::Status::InvalidArgument("base64: invalid length");
  size_t pad = 0;
  if (!s.empty() && s.back() == '=') ++pad;
  if (s.size() >= 2 && s[s.size() - 2] == '=') ++pad;
  std::string_view body = s.substr(0, s.size() - pad);
  if (pad > 0 && body.size() % 4 == 1) return common::Status::InvalidArgument("base64: invalid padding");
  // Padding must be exactly what the body length implies.
  if ((body.size() % 4 == 2 && pad != 2) || (body.size() % 4 == 3 && pad != 1) || (body.size() % 4 == 0 && pad != 0)) {
    return common::Status::InvalidArgument("base64: invalid padding");
  }
  return DecodeUnpadded(body, kStdTable, "base64");
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

common::Result<std::string> HexDecode(std::string_view s) {
  if (s.size() % 2 != 0) return common::Status::InvalidArgument("hex: odd length");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size() / 2);
  for (size_t i = 0; i < s.size(); i += 2) {
    int hi = nibble(s[i]);
    int lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return common::Status::InvalidArgument("hex: invalid character");
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

}  // namespace taskcred::crypto
