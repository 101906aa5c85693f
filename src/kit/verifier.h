// taskcred::kit::Verifier: accept a taskcred credential at a resource service,
// and nothing more than it grants.
//
//   auto v = taskcred::kit::Verifier::Create({.issuer = "https://vault.example.com/v1/taskcred",
//                                             .audience = "backup-service",
//                                             .jwks_url = "https://vault.example.com/v1/taskcred/jwks"});
//   if (!v.ok()) { /* configuration error: v.status().message() */ }
//   taskcred::kit::Verdict d = (*v)->Check(token, "s3://backups/db1/4711", "write");
//   if (!d.ok) reject(d.reason);  // "expired", "bad_signature", "not_allowed", ...
//
// Two modes:
//   offline  VerifyOffline: signature against the mount's JWKS (fetched from a
//            URL, read from a file, or given as JSON), then iss, aud, exp,
//            nbf, iat, then the credential's Token Status List (fetched
//            and cached): sees revocation, release and a spent last use
//            within the list's ttl; does not count uses.
//   online   VerifyOnline: Vault's `introspect` (PUT /v1/<mount>/introspect
//            with X-Vault-Token), optionally spending one use (`consume`).
//            Sees revocation, release and max_uses.
// Check() uses online mode when `vault_addr` is configured, otherwise offline.
//
// What a credential allows is decided by taskcred::grants::Allows on the
// verified `grants` claim (docs/grants.md), the same code the engine runs.
//
// Thread-safe: one Verifier may serve many threads. The JWKS cache is
// refreshed on an unknown `kid` (at most once per min_refetch_interval) and
// when older than jwks_max_age; a failed refresh keeps the previous keys.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "grants/grant.h"

namespace taskcred::kit {

// Machine-stable refusal codes of Verdict::reason. Refusals of the
// credential (the caller should answer 401, or 403 for kNotAllowed):
inline constexpr std::string_view kReasonOk = "ok";
inline constexpr std::string_view kReasonMalformed = "malformed";          // not a well-formed taskcred JWT / claims
inline constexpr std::string_view kReasonBadSignature = "bad_signature";    // signature or algorithm refused
inline constexpr std::string_view kReasonUnknownKid = "unknown_kid";        // no key with that kid, even after a refetch
inline constexpr std::string_view kReasonWrongIssuer = "wrong_issuer";
inline constexpr std::string_view kReasonWrongAudience = "wrong_audience";
inline constexpr std::string_view kReasonExpired = "expired";
inline constexpr std::string_view kReasonNotYetValid = "not_yet_valid";    // nbf or iat in the future
inline constexpr std::string_view kReasonInactive = "inactive";            // introspect: revoked, released, spent, unknown...
inline constexpr std::string_view kReasonRevoked = "revoked";              // offline: its status list bit is set
inline constexpr std::string_view kReasonNotAllowed = "not_allowed";        // valid, but no grant covers resource+action
inline constexpr std::string_view kReasonDpopRequired = "dpop_required";    // bound to a key (cnf.jkt), no DPoP proof
inline constexpr std::string_view kReasonDpopInvalid = "dpop_invalid";      // the DPoP proof is refused or replayed
// Operational failures (not a judgement on the credential; answer 5xx):
inline constexpr std::string_view kReasonJwksUnavailable = "jwks_unavailable";
inline constexpr std::string_view kReasonIntrospectFailed = "introspect_failed";
// The status list a credential names could not be had (or checked) for
// longer than status_max_stale: the check fails closed.
inline constexpr std::string_view kReasonStatusUnavailable = "status_unavailable";

// True for the three operational reasons above.
bool IsOperationalReason(std::string_view reason);

// The verified claims of a credential.
struct Claims {
  std::string iss;
  std::string sub;
  std::vector<std::string> aud;
  std::string task_id;  // the JWT's jti
  std::string task;
  std::string role;
  std::string instance;  // empty when not set
  int64_t iat = 0;
  int64_t nbf = 0;
  int64_t exp = 0;
  std::optional<int64_t> max_uses;
  std::optional<int64_t> uses_remaining;  // online mode, when uses are limited
  std::vector<grants::Grant> grants;
  // Every claim as received (online mode: the introspect answer).
  nlohmann::json raw = nlohmann::json::object();
};

struct Verdict {
  bool ok = false;
  std::string reason;  // kReason*; "ok" when ok
  std::string detail;  // human-readable; never contains the credential
  Claims claims;       // filled when the credential was authenticated

  // grants::Allows on the verified grants; false unless ok.
  bool Allows(std::string_view resource, std::string_view action) const;
};

using Clock = std::function<std::chrono::system_clock::time_point()>;

// What a request carried for a credential bound to its holder's key (RFC
// 9449): the DPoP proof (its "DPoP" header), and the request's method and
// URL as the client addressed it (query and fragment are ignored). Empty
// for requests without one; ignored for unbound credentials.
struct DpopRequest {
  std::string_view proof;
  std::string_view method;
  std::string_view url;
};
// Returns the current JWKS document ({"keys":[...]}) or an error.
using JwksFetcher = std::function<common::Result<nlohmann::json>()>;
// Returns the status list token at `uri` (the raw body of status/<list_id>).
using StatusListFetcher = std::function<common::Result<std::string>(const std::string& uri)>;

inline constexpr std::chrono::seconds kDefaultLeeway{30};
inline constexpr std::chrono::seconds kMaxLeeway{300};

struct VerifierOptions {
  // ---- offline ----
  std::string issuer;    // required for offline mode: `iss` must equal it exactly
  std::string audience;  // required for offline mode: `aud` (string or array) must contain it
  // Exactly one JWKS source for offline mode:
  std::string jwks_url;                // http(s) URL, e.g. <vault>/v1/taskcred/jwks
  std::string jwks_file;               // a file holding the JWKS JSON (re-read on refresh)
  std::optional<nlohmann::json> jwks;  // a fixed JWKS (never refreshed)
  JwksFetcher fetcher;                 // custom source (tests, other transports)
  // Clock skew tolerated for exp/nbf/iat: 0..kMaxLeeway.
  std::chrono::seconds leeway = kDefaultLeeway;
  // An unknown kid triggers a refetch at most this often.
  std::chrono::seconds min_refetch_interval{60};
  // A cached JWKS older than this is refreshed before use (failures keep it).
  std::chrono::seconds jwks_max_age{600};
  // Token Status List of credentials with a "status" claim: the list is
  // fetched from the claim's uri (only under `issuer`, http(s)), verified
  // against the JWKS and cached for its ttl; a set bit is kReasonRevoked.
  // A list that cannot be refreshed is used until ttl + status_max_stale
  // after its fetch, then kReasonStatusUnavailable (fails closed).
  bool check_status = true;
  std::chrono::seconds status_max_stale{300};
  std::string status_list_file;      // one list token on disk, instead of fetching
  StatusListFetcher status_fetcher;  // custom source (tests, other transports)
  // A DPoP proof's iat must be within this of now (each way); its jti is
  // accepted once (a replay cache per Verifier).
  std::chrono::seconds dpop_iat_window{60};

  // ---- online (introspect) ----
  std::string vault_addr;  // e.g. https://vault.example.com:8200; enables online mode in Check()
  std::string vault_token;
  std::string vault_namespace;  // X-Vault-Namespace, when set
  std::string mount = "taskcred";
  bool consume = false;  // Check() spends one use per call

  // ---- transport (JWKS URL and introspect) ----
  std::string ca_file;                // PEM bundle; default: the system trust store
  bool insecure_skip_verify = false;  // never in production
  std::chrono::milliseconds http_timeout{5000};

  Clock clock;  // default: system_clock::now
};

class Verifier {
 public:
  // kInvalidArgument naming the option when the configuration is unusable
  // (no mode configured, several JWKS sources, leeway out of range, bad URL,
  // unreadable/invalid JWKS file or JSON...). Nothing is fetched here.
  static common::Result<std::unique_ptr<Verifier>> Create(VerifierOptions options);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  bool online() const;
  const VerifierOptions& options() const;

  // Offline verification (requires issuer, audience and a JWKS source).
  // A credential bound to a key (cnf.jkt) also needs `dpop`: a proof of
  // that key for this request (kReasonDpopRequired / kReasonDpopInvalid).
  Verdict VerifyOffline(std::string_view token, const DpopRequest& dpop = {});
  // Online verification through introspect (requires vault_addr/vault_token).
  // With resource+action (both or neither) the engine's `allowed` answer
  // decides: a refusal is kNotAllowed. If issuer/audience are configured they
  // are checked against the answer as well.
  // `dpop` goes to introspect (dpop_proof, method, url): the engine checks it.
  Verdict VerifyOnline(std::string_view token, bool consume, std::string_view resource = {},
                       std::string_view action = {}, const DpopRequest& dpop = {});

  // Verify in the configured mode and, when resource and action are given,
  // require Allows(resource, action) (kNotAllowed otherwise). Online mode
  // uses options().consume.
  Verdict Check(std::string_view token, std::string_view resource = {}, std::string_view action = {},
                const DpopRequest& dpop = {});

  // Fetches the JWKS now (ignoring the refetch interval); for start-up
  // checks. Offline mode only.
  common::Status RefreshJwks();
  // Number of JWKS fetches so far (tests, metrics).
  int jwks_fetch_count() const;
  // Number of status list fetches so far (tests, metrics).
  int status_fetch_count() const;

 private:
  struct State;
  explicit Verifier(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace taskcred::kit
