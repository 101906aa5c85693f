#include "runtime/about.h"

#include <google/protobuf/stubs/common.h>
#include <grpcpp/grpcpp.h>
#include <openssl/crypto.h>
#include <sys/auxv.h>

#include <string_view>

namespace taskcred::runtime {

namespace {

// A static executable has no program interpreter, so the kernel passes no
// interpreter base address.
bool LinkedStatically() { return getauxval(AT_BASE) == 0; }

std::string Version(const ServeOptions& opts) {
  return opts.version.empty() ? std::string(TASKCRED_RUNTIME_VERSION) : opts.version;
}

}  // namespace

std::string VersionText(const ServeOptions& opts) {
  std::string text = opts.plugin_name + " " + Version(opts) + "\n";
  text += "commit: " + (opts.commit.empty() ? std::string("unknown") : opts.commit) + "\n";
  text += std::string("linked: ") + (LinkedStatically() ? "static" : "dynamic") + "\n";
  text += "gRPC: " + grpc::Version() + "\n";
  text += "protobuf: " + google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION) + "\n";
  text += std::string("OpenSSL: ") + OpenSSL_version(OPENSSL_VERSION) + "\n";
  text += "plugin protocol: 5 and 4 (AutoMTLS, unwrap-token TLS, multiplexed backends)\n";
  return text;
}

std::string UsageText(const ServeOptions& opts) {
  const std::string& n = opts.plugin_name;
  return n + " " + Version(opts) +
         " is a Vault/OpenBao secrets engine plugin. The server starts it; it is not run by hand.\n"
         "\n"
         "usage: " + n + " --version | --help\n"
         "       (run by Vault/OpenBao) " + n + " [-event-loops=N] [legacy TLS flags Vault passes]\n"
         "\n"
         "  --version       print the version, commit, linkage and built-in library versions\n"
         "  --help          print this text\n"
         "  -event-loops=N  serve on N event loops (1..64, default 1); pass it at\n"
         "                  registration: vault plugin register -args=-event-loops=2 ...\n"
         "\n"
         "environment (set by the server unless noted):\n"
         "  VAULT_BACKEND_PLUGIN       the magic cookie; without it the binary refuses to serve\n"
         "  PLUGIN_PROTOCOL_VERSIONS   protocol versions the host speaks (5 and 4 are served)\n"
         "  PLUGIN_CLIENT_CERT         the host's AutoMTLS certificate\n"
         "  PLUGIN_UNIX_SOCKET_DIR     where the plugin's socket is created (default $TMPDIR or /tmp)\n"
         "  PLUGIN_UNIX_SOCKET_GROUP   the socket's group (a name is looked up in /etc/group)\n"
         "  VAULT_LOG_LEVEL            trace, debug, info, warn or error (BAO_LOG_LEVEL on OpenBao)\n"
         "  VAULT_PLUGIN_MLOCK_ENABLED lock the process's memory (needs CAP_IPC_LOCK)\n"
         "  TASKCRED_EVENT_LOOPS       as -event-loops (operator's choice)\n"
         "\n"
         "Register and mount it with scripts/register.sh, or by hand:\n"
         "  vault plugin register -sha256=$(sha256sum " + n + " | cut -d' ' -f1) secret " + n + "\n"
         "  vault secrets enable -path=" + n + " " + n + "\n";
}

std::optional<std::string> AboutRequest(const std::vector<std::string>& args, const ServeOptions& opts) {
  for (std::string_view a : args) {
    if (a == "--") break;
    if (a == "--version" || a == "-version") return VersionText(opts);
    if (a == "--help" || a == "-help" || a == "-h") return UsageText(opts);
  }
  return std::nullopt;
}

}  // namespace taskcred::runtime
