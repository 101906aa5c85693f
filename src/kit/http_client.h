// A minimal HTTP/1.1 client (Boost.Beast, OpenSSL) for the kit: fetching a
// JWKS and calling Vault's introspect endpoint. One request per connection,
// a deadline over the whole exchange, bounded response size, TLS peer and
// host name verification on by default.
//
// Thread-safe: every call uses its own io_context and connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace taskcred::kit {

struct HttpOptions {
  // PEM file of CA certificates to trust instead of the system store.
  std::string ca_file;
  // Turns off TLS certificate and host name verification. Only for tests and
  // debugging; never the default.
  bool insecure_skip_verify = false;
  // Deadline for resolve + connect + TLS + request + response.
  std::chrono::milliseconds timeout{5000};
  // Largest response body accepted.
  size_t max_body_bytes = 1024 * 1024;
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

struct ParsedUrl {
  bool https = false;
  std::string host;  // without brackets for IPv6 literals
  std::string port;  // "80"/"443" when absent
  std::string target;  // path + query, "/" when absent
};

// http(s)://host[:port][/path[?query]]. No user info, no fragment.
// kInvalidArgument naming the rule otherwise.
common::Result<ParsedUrl> ParseUrl(std::string_view url);

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Sends one request and reads the whole response. Transport failures
// (resolve, connect, TLS, timeout, oversized response) are kUnavailable with
// a message naming the URL's host and the cause; any HTTP status is a
// successful Result. Header values never appear in a message.
common::Result<HttpResponse> HttpCall(std::string_view method, std::string_view url, const HttpHeaders& headers,
                                      std::string body, const HttpOptions& options);

}  // namespace taskcred::kit
