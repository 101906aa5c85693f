// Handshake: the go-plugin start-up contract, as pure functions.
//
// The host passes its wishes in the environment (magic cookie, protocol
// versions, socket directory, client certificate) and reads one line from the
// plugin's stdout: CORE|APP|NET|ADDR|PROTO|CERT[|MUX]. These helpers decide and
// format; Serve() performs the side effects. All functions are thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace taskcred::runtime {

inline constexpr std::string_view kMagicCookieKey = "VAULT_BACKEND_PLUGIN";
inline constexpr std::string_view kMagicCookieValue = "6669da05-b1c8-4f49-97d9-c8e5bed98e20";

// Reads one environment variable; std::nullopt when unset.
using EnvGetter = std::function<std::optional<std::string>(std::string_view)>;

// The process environment.
EnvGetter ProcessEnv();

// OpenBao's lookup order: BAO_<suffix> if set (even empty), else VAULT_<suffix>.
std::optional<std::string> LookupBaoOrVault(const EnvGetter& env, std::string_view suffix);

// True when `value` is a Go strconv.ParseBool truth ("1", "t", "T", "TRUE", "true", "True").
bool ParseGoBool(std::string_view value, bool* out);

// The message printed (to stderr) when the binary is run without the cookie.
std::string NotAPluginMessage(std::string_view program);

// Picks the application protocol version from PLUGIN_PROTOCOL_VERSIONS (may be
// unset/empty/garbage). We serve 5 and 4; 3 is wire-identical to 4 and is
// answered as 3 so a host offering only 3 accepts it. The highest common
// version wins; with no overlap the lowest version we support (4) is
// returned and the host refuses it, as go-plugin does.
int NegotiateVersion(std::optional<std::string_view> host_versions);

// Unpadded standard base64 (Go's RawStdEncoding), as handshake field 6 needs.
std::string RawStdBase64(std::string_view bytes);

// Formats the handshake line including the trailing '\n'. `cert_der` empty
// leaves field 6 empty (never print a cert outside AutoMTLS). Field 7 (gRPC
// broker multiplexing supported, "true"/"false") is written only when
// `broker_multiplex` has a value: go-plugin writes it only when the host set
// PLUGIN_MULTIPLEX_GRPC.
std::string FormatHandshakeLine(int version, std::string_view network, std::string_view address,
                                std::string_view cert_der, std::optional<bool> broker_multiplex);

// Chooses the directory for the plugin's unix socket: PLUGIN_UNIX_SOCKET_DIR,
// else $TMPDIR, else /tmp.
std::string SocketDirectory(const EnvGetter& env);

// Resolves PLUGIN_UNIX_SOCKET_GROUP (numeric gid or group name).
common::Result<unsigned> ResolveGroup(std::string_view group);

}  // namespace taskcred::runtime
