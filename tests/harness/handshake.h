// Parsing of the go-plugin handshake line and of hclog JSON stderr lines,
// with the strictness of the hosts (go-plugin client.go, log_entry.go).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace taskcred::test {

// CORE|APP|NET|ADDR|PROTO[|CERT[|MUX]]
struct Handshake {
  std::string raw;
  std::vector<std::string> fields;  // split on '|' (go-plugin >= 1.6 style)
  int core_version = 0;
  int app_version = 0;
  std::string network;   // "unix" | "tcp"
  std::string address;   // socket path or host:port
  std::string protocol;  // "grpc"
  std::optional<std::string> cert_der;  // field 6 decoded (present and non-empty)
  std::optional<std::string> mux;       // field 7 as printed
  // "unix:<path>" or "<host:port>", for a gRPC target.
  std::string GrpcTarget() const;
};

// Parses the first stdout line (trailing '\n' must already be removed).
// Rejects what the hosts reject: < 5 fields, core != 1, non-numeric app
// version, field 6 that is not unpadded standard base64 of a DER blob.
common::Result<Handshake> ParseHandshakeLine(std::string_view line);

// Standard-alphabet base64. With `padded` false, '=' is an error (Go's
// RawStdEncoding); with true, padding is required (Go's StdEncoding).
common::Result<std::string> Base64Decode(std::string_view in, bool padded);
std::string Base64Encode(std::string_view in, bool padded);
std::string Base64UrlEncodeRaw(std::string_view in);

// One stderr line as the host's log reader sees it.
struct LogLine {
  std::string raw;
  bool json = false;  // parsed as an hclog JSON entry with a valid timestamp
  std::string level, message, module, timestamp;
  nlohmann::json object;  // the whole entry when json
};

// Applies go-plugin's rules: a JSON object whose @message/@level/@timestamp
// are strings and whose @timestamp parses as 2006-01-02T15:04:05.000000Z07:00.
LogLine ParseLogLine(std::string_view line);
// True when `ts` matches hclog's layout with exactly 6 fractional digits.
bool IsHclogTimestamp(std::string_view ts);

}  // namespace taskcred::test
