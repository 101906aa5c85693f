#include "harness/handshake.h"

#include <array>
#include <charconv>
#include <cctype>

namespace taskcred::test {
namespace {

using common::Result;
using common::Status;

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Encode(std::string_view in, std::string_view alphabet, bool padded) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (padded) out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (padded) out += '=';
  }
  return out;
}

bool ParseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return false;
  for (size_t i = pos; i < pos + n; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

std::string Base64Encode(std::string_view in, bool padded) { return Encode(in, kAlphabet, padded); }
std::string Base64UrlEncodeRaw(std::string_view in) { return Encode(in, kUrlAlphabet, false); }

Result<std::string> Base64Decode(std::string_view in, bool padded) {
  std::string_view body = in;
  if (padded) {
    if (in.size() % 4 != 0) return Status::InvalidArgument("padded base64 length not a multiple of 4");
    while (!body.empty() && body.back() == '=' && in.size() - body.size() < 2) body.remove_suffix(1);
  } else if (in.size() % 4 == 1) {
    return Status::InvalidArgument("unpadded base64 has an impossible length");
  }
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : body) {
    size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) {
      return Status::InvalidArgument(std::string("invalid base64 character '") + c + "'");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits >= 6) return Status::InvalidArgument("base64 has a dangling character");
  if ((acc & ((1u << bits) - 1)) != 0) return Status::InvalidArgument("base64 has non-zero trailing bits");
  return out;
}

std::string Handshake::GrpcTarget() const { return network == "unix" ? "unix:" + address : address; }

Result<Handshake> ParseHandshakeLine(std::string_view line) {
  Handshake h;
  h.raw = std::string(line);
  size_t start = 0;
  for (;;) {
    size_t bar = line.find('|', start);
    h.fields.emplace_back(line.substr(start, bar == std::string_view::npos ? bar : bar - start));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  if (h.fields.size() < 5) return Status::InvalidArgument("handshake has " + std::to_string(h.fields.size()) + " fields, want >= 5: " + h.raw);
  if (h.fields.size() > 7) return Status::InvalidArgument("handshake has more than 7 fields: " + h.raw);
  if (!ParseInt(h.fields[0], &h.core_version) || h.core_version != 1) {
    return Status::InvalidArgument("core protocol is '" + h.fields[0] + "', want 1");
  }
  if (!ParseInt(h.fields[1], &h.app_version)) return Status::InvalidArgument("app protocol '" + h.fields[1] + "' is not a number");
  h.network = h.fields[2];
  h.address = h.fields[3];
  h.protocol = h.fields[4];
  if (h.network != "unix" && h.network != "tcp") return Status::InvalidArgument("unknown network '" + h.network + "'");
  if (h.address.empty()) return Status::InvalidArgument("empty address");
  if (h.fields.size() >= 6 && !h.fields[5].empty()) {
    auto der = Base64Decode(h.fields[5], /*padded=*/false);
    if (!der.ok()) return der.status().WithContext("handshake field 6");
    h.cert_der = *std::move(der);
  }
  if (h.fields.size() == 7) h.mux = h.fields[6];
  return h;
}

bool IsHclogTimestamp(std::string_view ts) {
  // 2006-01-02T15:04:05.000000 then Z or +hh:mm / -hh:mm
  if (!Digits(ts, 0, 4) || ts.size() < 27 || ts[4] != '-' || !Digits(ts, 5, 2) || ts[7] != '-' || !Digits(ts, 8, 2) ||
      ts[10] != 'T' || !Digits(ts, 11, 2) || ts[13] != ':' || !Digits(ts, 14, 2) || ts[16] != ':' ||
      !Digits(ts, 17, 2) || ts[19] != '.' || !Digits(ts, 20, 6)) {
    return false;
  }
  std::string_view zone = ts.substr(26);
  if (zone == "Z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && Digits(zone, 1, 2) && zone[3] == ':' &&
         Digits(zone, 4, 2);
}

LogLine ParseLogLine(std::string_view line) {
  LogLine out;
  out.raw = std::string(line);
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return out;
  auto str = [&](const char* key, std::string* dst) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return false;
    *dst = it->get<std::string>();
    return true;
  };
  if (!str("@message", &out.message) || !str("@level", &out.level) || !str("@timestamp", &out.timestamp)) return out;
  if (!IsHclogTimestamp(out.timestamp)) return out;
  (void)str("@module", &out.module);
  out.json = true;
  out.object = std::move(j);
  return out;
}

}  // namespace taskcred::test
