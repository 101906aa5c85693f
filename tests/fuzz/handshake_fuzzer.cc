// Fuzz target (e): the runtime's handshake and environment parsing.
// Input lines:
//   1: PLUGIN_PROTOCOL_VERSIONS value      -> NegotiateVersion
//   2: a Go bool                            -> ParseGoBool
//   3: command-line args, space separated  -> ParseApiClientFlags
//   4: env assignments "K=V;K=V"           -> ChooseTlsMode, ApiTlsConfigFrom,
//                                             LookupBaoOrVault, SocketDirectory
//   5: an API address                      -> ParseApiAddr
//   6: an unwrap JWT                       -> UnwrapTokenAddr (-> ParseApiAddr)
//   rest: an unwrap response body          -> ParseUnwrapResponse (-> CertCommonName)
// Nothing touches the network or the file system.
// Invariants: the negotiated version is 3, 4 or 5; the handshake line built
// from it is one line ending in '\n'; a parsed API address has a non-empty
// host and a numeric port when one is given.
#include <cstddef>
#include <cstdint>
#include <map>

#include "fuzz_util.h"
#include "runtime/handshake.h"
#include "runtime/tls.h"

namespace rt = taskcred::runtime;

namespace {

std::vector<std::string> SplitOn(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t pos = s.find(sep);
    std::string_view item = s.substr(0, pos);
    if (!item.empty()) out.emplace_back(item);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

void CheckAddr(const taskcred::common::Result<rt::ApiAddr>& addr) {
  if (!addr.ok()) return;
  TC_FUZZ_CHECK(!addr->host.empty(), "ParseApiAddr accepted an empty host");
  for (char c : addr->port) TC_FUZZ_CHECK(c >= '0' && c <= '9', "ParseApiAddr accepted a non-numeric port");
  TC_FUZZ_CHECK(addr->base_path.empty() || addr->base_path.back() != '/', "base_path keeps a trailing '/'");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto lines = taskcred::fuzz::SplitLines(taskcred::fuzz::AsView(data, size), 6);

  int version = rt::NegotiateVersion(lines[0]);
  TC_FUZZ_CHECK(version >= 3 && version <= 5, "NegotiateVersion returned " + std::to_string(version));
  (void)rt::NegotiateVersion(std::nullopt);
  std::string line = rt::FormatHandshakeLine(version, "unix", lines[4], lines[5],
                                             lines[1].empty() ? std::nullopt : std::optional<bool>(lines[1].size() % 2 == 0));
  TC_FUZZ_CHECK(!line.empty() && line.back() == '\n', "handshake line does not end in a newline");
  (void)rt::RawStdBase64(lines[5]);

  bool b = false;
  (void)rt::ParseGoBool(lines[1], &b);

  auto flags = rt::ParseApiClientFlags(SplitOn(lines[2], ' '));

  std::map<std::string, std::string, std::less<>> env_map;
  for (const std::string& kv : SplitOn(lines[3], ';')) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  rt::EnvGetter env = [&env_map](std::string_view name) -> std::optional<std::string> {
    auto it = env_map.find(name);
    if (it == env_map.end()) return std::nullopt;
    return it->second;
  };
  (void)rt::ChooseTlsMode(env);
  (void)rt::LookupBaoOrVault(env, "UNWRAP_TOKEN");
  (void)rt::SocketDirectory(env);
  if (flags.ok()) (void)rt::ApiTlsConfigFrom(env, *flags);

  CheckAddr(rt::ParseApiAddr(lines[4]));
  auto addr = rt::UnwrapTokenAddr(lines[5]);
  if (addr.ok()) CheckAddr(rt::ParseApiAddr(*addr));

  auto material = rt::ParseUnwrapResponse(lines[6]);
  if (material.ok()) {
    TC_FUZZ_CHECK(!material->cert_pem.empty() && !material->key_pem.empty(), "unwrap material without cert/key");
    (void)rt::CertCommonName(material->cert_pem);
  }
  return 0;
}
