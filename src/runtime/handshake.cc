#include "runtime/handshake.h"

#include <grp.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <set>

namespace taskcred::runtime {

EnvGetter ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::optional<std::string> LookupBaoOrVault(const EnvGetter& env, std::string_view suffix) {
  if (auto v = env("BAO_" + std::string(suffix))) return v;
  return env("VAULT_" + std::string(suffix));
}

bool ParseGoBool(std::string_view value, bool* out) {
  static const std::set<std::string_view> kTrue = {"1", "t", "T", "TRUE", "true", "True"};
  static const std::set<std::string_view> kFalse = {"0", "f", "F", "FALSE", "false", "False"};
  if (kTrue.count(value)) {
    *out = true;
    return true;
  }
  if (kFalse.count(value)) {
    *out = false;
    return true;
  }
  return false;
}

std::string NotAPluginMessage(std::string_view program) {
  std::string path(program.empty() ? "plugin" : program);
  std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  return base + " is a Vault/OpenBao plugin: the Vault server starts it, it is\n"
         "not run by hand. Copy it into the server's plugin_directory, then register and mount it:\n\n"
         "  vault plugin register -sha256=$(sha256sum " + path + " | cut -d' ' -f1) -command=" + base +
         " secret " + base + "\n"
         "  vault secrets enable -path=" + base + " " + base + "\n";
}

int NegotiateVersion(std::optional<std::string_view> host_versions) {
  std::set<int> offered;
  if (host_versions) {
    std::string_view s = *host_versions;
    while (!s.empty()) {
      size_t comma = s.find(',');
      std::string_view item = s.substr(0, comma);
      s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      int v = 0;
      auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
      if (ec == std::errc() && ptr == item.data() + item.size()) offered.insert(v);
    }
  }
  for (int v : {5, 4, 3}) {
    if (offered.count(v)) return v;
  }
  return 4;
}

std::string RawStdBase64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    unsigned n = byte(i) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (rest == 2) {
    unsigned n = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

std::string FormatHandshakeLine(int version, std::string_view network, std::string_view address,
                                std::string_view cert_der, std::optional<bool> broker_multiplex) {
  std::string line = "1|" + std::to_string(version) + "|" + std::string(network) + "|" +
                     std::string(address) + "|grpc|";
  if (!cert_der.empty()) line += RawStdBase64(cert_der);
  if (broker_multiplex.has_value()) line += *broker_multiplex ? "|true" : "|false";
  line += "\n";
  return line;
}

std::string SocketDirectory(const EnvGetter& env) {
  if (auto d = env("PLUGIN_UNIX_SOCKET_DIR"); d && !d->empty()) return *d;
  if (auto d = env("TMPDIR"); d && !d->empty()) return *d;
  return "/tmp";
}

common::Result<unsigned> ResolveGroup(std::string_view group) {
  if (group.empty()) return common::Status::InvalidArgument("PLUGIN_UNIX_SOCKET_GROUP is empty");
  unsigned gid = 0;
  auto [ptr, ec] = std::from_chars(group.data(), group.data() + group.size(), gid);
  if (ec == std::errc() && ptr == group.data() + group.size()) return gid;
  std::string name(group);
  std::vector<char> buf(16384);
  struct group gr {};
  struct group* found = nullptr;
  if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return common::Status::InvalidArgument("PLUGIN_UNIX_SOCKET_GROUP: no group named '" + name + "'");
  }
  return static_cast<unsigned>(found->gr_gid);
}

}  // namespace taskcred::runtime
