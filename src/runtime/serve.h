// Serve: the plugin process's main loop, as Vault/OpenBao expect it.
//
// Checks the magic cookie, negotiates the protocol version (5 or 4), sets up
// transport security (AutoMTLS, legacy unwrap-token TLS or plaintext), serves
// go-plugin's health/broker/controller/stdio services plus pb.Backend,
// logical.PluginVersion and pluginutil.multiplexing.PluginMultiplexing on a
// unix socket, prints the handshake line and runs until the host calls
// Shutdown, sends SIGTERM or dies. Knows nothing of the engine: backends come
// from `factory`, one instance per Setup (keyed by multiplex_id on v5).
#pragma once

#include <string>

#include "logical/backend.h"

namespace taskcred::runtime {

struct ServeOptions {
  std::string plugin_name = "taskcred";  // used in messages
  std::string version;  // semver for logical.PluginVersion; "" = "v" + the CMake project version
  std::string logger_module = "taskcred";
  std::string commit;  // the source's git commit, for --version; "" = unknown
};

// Call once, from main(), before starting any thread (it sets the signal
// mask). `--version` and `--help` print their text (runtime/about.h) and
// return 0 without serving. Returns 1 on start-up failure (run by hand without the cookie, bad
// TLS material, unwrap failure, PLUGIN_MULTIPLEX_GRPC, ...) for main() to
// return. Once serving it does not return: after Shutdown, SIGTERM or the
// host's death it stops the server (short grace), removes the socket and ends
// the process with _Exit(0). SIGINT is ignored for the process's life.
int Serve(int argc, char** argv, taskcred::logical::BackendFactory factory, const ServeOptions& opts);

}  // namespace taskcred::runtime
