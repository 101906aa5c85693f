#include "kit/tools/authz_config.h"

#include <cerrno>
#include <cstdlib>

namespace taskcred::kit::tools {

using common::Result;
using common::Status;

const char kAuthzUsage[] = R"(usage:
  taskcred-authz --listen 127.0.0.1:PORT --jwks URL|FILE --issuer ISSUER --audience AUDIENCE [options]
  taskcred-authz --listen 127.0.0.1:PORT --introspect [--vault-addr ADDR] [--vault-token T] [options]

A forward-auth sidecar: reverse proxies ask it whether a request carrying a
taskcred credential may do X-Action on X-Resource.

  GET /check    headers: Authorization: Bearer <credential>, X-Resource, X-Action;
                for a credential bound to a key (cnf.jkt): Authorization: DPoP
                <credential>, DPoP: <proof>, X-Original-Method, X-Original-URI
                200  valid and allowed (response headers X-Taskcred-Task-Id,
                     X-Taskcred-Task, X-Taskcred-Role, X-Taskcred-Sub)
                401  no credential, or an invalid one (WWW-Authenticate: Bearer
                     error="invalid_token", error_description="<reason>")
                     (no credential: WWW-Authenticate: Bearer realm="taskcred",
                     without an error code, as RFC 6750 3.1 asks)
                403  valid, but no grant allows X-Action on X-Resource (also
                     when X-Resource or X-Action is missing: fail closed)
                     (DPoP: WWW-Authenticate: DPoP algs=..., error="invalid_dpop_proof")
                400  Authorization, X-Resource, X-Action, DPoP, X-Original-Method or
                     X-Original-URI given more than once
                503  the JWKS, the credential's status list or Vault could not
                     be had (status lists fail closed past --status-max-stale)
  Any method is accepted on /check (nginx auth_request keeps the client's).
  GET /healthz  200 {"status":"ok"}

options:
  --listen HOST:PORT        address to listen on (required; port 0 = any free port,
                            the bound address is logged as {"msg":"listening","addr":...})
  --jwks URL|FILE           offline mode: the mount's JWKS (e.g. $VAULT_ADDR/v1/taskcred/jwks)
  --issuer ISSUER           expected iss (required offline; checked online when given)
  --audience AUDIENCE       expected audience (required offline; checked online when given)
  --leeway SECONDS          clock skew for exp/nbf/iat, 0..300 (default 30)
  --min-refetch-interval S  unknown kid refetches the JWKS at most every S seconds (default 60)
  --no-status-list          offline: do not check the Token Status List a credential names
                            (by default it is fetched from under ISSUER, verified against the
                            JWKS and cached for its ttl; a set bit answers 401 "revoked")
  --status-max-stale S      a status list that cannot be refreshed is used at most S seconds
                            past its ttl, then checks fail closed with 503 (default 300)
  --status-list FILE        offline: a fixed status list on disk instead of fetching
  --external-url URL        the base URL clients address (e.g. https://files.example): a DPoP
                            proof's htu must be it + X-Original-URI (query ignored)
  --introspect              online mode: Vault's introspect (sees revocation and use counts)
  --vault-addr ADDR         default $VAULT_ADDR
  --vault-token T           default $VAULT_TOKEN (needs update on <mount>/introspect)
  --namespace NS            default $VAULT_NAMESPACE
  --mount PATH              the taskcred mount (default taskcred)
  --consume                 every allowed check spends one use (online mode)
  --ca-file FILE            CA bundle for https (default $VAULT_CACERT, else the system store)
  --insecure-skip-verify    do not verify TLS certificates (testing only)
  --timeout-ms N            timeout of JWKS/Vault requests (default 5000)
  --threads N               io threads (default 4)
  --max-header-bytes N      request line + headers limit (default 32768; larger: 431)
  --max-body-bytes N        request body limit (default 16384; larger: 413)
  --read-timeout-ms N       a request must arrive completely within N ms: of connecting
                            (first request) or of its first byte (default 10000)
  --idle-timeout-ms N       a keep-alive connection may wait N ms for its next request
                            (default 60000)
  --write-timeout-ms N      a response must be written within N ms (default 10000)
  --max-connections N       open connections at most (default 1024; more: 503 + close)
  --shutdown-grace-ms N     on SIGTERM/SIGINT, in-flight requests get N ms (default 10000);
                            a second signal stops at once
  -h, --help                this text

Logs: one JSON object per line on stderr; one per decision ("@message":
"decision") with decision (allow|deny|error), status, reason, resource,
action, task_id (the credential's jti), task, role, remote, duration_ms.
Credentials are never logged.
)";

namespace {

// `flag`, when given, as an integer in [lo, hi] into *out.
Status ParseBounded(const std::map<std::string, std::string>& values, const std::string& flag, long lo, long hi,
                    long* out) {
  auto it = values.find(flag);
  if (it == values.end()) return Status::Ok();
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
    return Status::InvalidArgument(flag + " must be an integer from " + std::to_string(lo) + " to " +
                                   std::to_string(hi));
  }
  *out = v;
  return Status::Ok();
}

}  // namespace

std::set<std::string> AuthzValueFlags() {
  std::set<std::string> flags = VerifierValueFlags();
  flags.insert({"--listen", "--external-url", "--threads", "--max-header-bytes", "--max-body-bytes",
                "--read-timeout-ms", "--idle-timeout-ms", "--write-timeout-ms", "--shutdown-grace-ms",
                "--max-connections"});
  return flags;
}

Result<AuthzConfig> AuthzConfigFromFlags(const ParsedFlags& flags) {
  AuthzConfig config;
  auto listen = flags.values.find("--listen");
  if (listen == flags.values.end()) return Status::InvalidArgument("--listen HOST:PORT is required");
  {
    const std::string& l = listen->second;
    size_t colon = l.rfind(':');
    if (colon == std::string::npos || colon == 0) return Status::InvalidArgument("--listen must be HOST:PORT");
    config.host = l.substr(0, colon);
    if (config.host.size() > 2 && config.host.front() == '[' && config.host.back() == ']') {
      config.host = config.host.substr(1, config.host.size() - 2);
    }
    config.port = l.substr(colon + 1);
    if (config.port.empty() || config.port.size() > 5 ||
        config.port.find_first_not_of("0123456789") != std::string::npos || std::stoul(config.port) > 65535) {
      return Status::InvalidArgument("--listen port must be a number from 0 to 65535");
    }
  }
  long threads = config.threads, max_header = static_cast<long>(config.max_header_bytes),
       max_body = static_cast<long>(config.max_body_bytes), read_ms = config.read_timeout.count(),
       write_ms = config.write_timeout.count(), grace_ms = config.shutdown_grace.count(),
       idle_ms = config.idle_timeout.count(), max_conns = static_cast<long>(config.max_connections);
  TC_RETURN_IF_ERROR(ParseBounded(flags.values, "--threads", 1, 64, &threads));
  TC_RETURN_IF_ERROR(ParseBounded(flags.values, "--max-header-bytes", 1024, 1 << 20, &max_header));
  TC_RETURN_IF_ERROR(ParseBounded(flags.values, "--max-body-bytes", 0, 1 << 20, &max_body));
  TC_RETURN_IF_ERROR(ParseBounded(flags.values, "--read-timeout-ms", 1, 3600000, &read_ms));
  TC_RETURN_IF_ERROR(ParseBounded(flags.values, "--idle-timeout-ms", 1, 3600000, &idle_ms));
  TC_RETURN_IF_ERROR(ParseBounded(flags.values, "--write-timeout-ms", 1, 3600000, &write_ms));
  TC_RETURN_IF_ERROR(ParseBounded(flags.values, "--max-connections", 1, 1000000, &max_conns));
  TC_RETURN_IF_ERROR(ParseBounded(flags.values, "--shutdown-grace-ms", 0, 3600000, &grace_ms));
  config.threads = static_cast<int>(threads);
  config.max_header_bytes = static_cast<size_t>(max_header);
  config.max_body_bytes = static_cast<size_t>(max_body);
  config.read_timeout = std::chrono::milliseconds(read_ms);
  config.write_timeout = std::chrono::milliseconds(write_ms);
  config.idle_timeout = std::chrono::milliseconds(idle_ms);
  config.max_connections = static_cast<size_t>(max_conns);
  config.shutdown_grace = std::chrono::milliseconds(grace_ms);
  if (auto ext = flags.values.find("--external-url"); ext != flags.values.end()) {
    config.external_url = ext->second;
    while (!config.external_url.empty() && config.external_url.back() == '/') config.external_url.pop_back();
    if (config.external_url.rfind("https://", 0) != 0 && config.external_url.rfind("http://", 0) != 0) {
      return Status::InvalidArgument(
          "--external-url must be an http(s) URL (the base clients address, e.g. https://files.example)");
    }
  }
  return config;
}

}  // namespace taskcred::kit::tools
