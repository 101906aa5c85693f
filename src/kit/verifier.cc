#include "kit/verifier.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include "crypto/jwt.h"
#include "kit/http_client.h"
#include "kit/jwks_source.h"
#include "kit/holder_check.h"
#include "kit/status_lists.h"

namespace taskcred::kit {

using common::ErrorKind;
using common::Result;
using common::Status;
using nlohmann::json;
using TimePoint = std::chrono::system_clock::time_point;

namespace {

// Without any cached JWKS, failed fetches are retried at most this often.
constexpr std::chrono::seconds kColdRetryInterval{5};

Verdict Refuse(std::string_view reason, std::string detail) {
  Verdict v;
  v.ok = false;
  v.reason = std::string(reason);
  v.detail = std::move(detail);
  return v;
}

// A NumericDate (RFC 7519 §2): a JSON number of seconds; fractions are
// truncated. nullopt when absent, error when not a finite number.
Result<std::optional<int64_t>> NumericClaim(const json& claims, const char* name) {
  if (!claims.contains(name)) return std::optional<int64_t>();
  const json& v = claims[name];
  if (v.is_number_integer()) return std::optional<int64_t>(v.get<int64_t>());
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return Status::InvalidArgument(std::string(name) + " is out of range");
    return std::optional<int64_t>(static_cast<int64_t>(u));
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || d > 9.0e15 || d < -9.0e15) {
      return Status::InvalidArgument(std::string(name) + " is out of range");
    }
    return std::optional<int64_t>(static_cast<int64_t>(std::floor(d)));
  }
  return Status::InvalidArgument(std::string(name) + " must be a number (seconds since the epoch)");
}

std::string OptionalString(const json& obj, const char* name) {
  if (obj.contains(name) && obj[name].is_string()) return obj[name].get<std::string>();
  return "";
}

std::vector<std::string> AudienceList(const json& claims) {
  std::vector<std::string> out;
  if (!claims.contains("aud")) return out;
  const json& aud = claims["aud"];
  if (aud.is_string()) {
    out.push_back(aud.get<std::string>());
  } else if (aud.is_array()) {
    for (const auto& a : aud) {
      if (a.is_string()) out.push_back(a.get<std::string>());
    }
  }
  return out;
}

bool ValidMount(std::string_view mount) {
  if (mount.empty() || mount.size() > 256) return false;
  for (char c : mount) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '/')) return false;
  }
  return mount.find("..") == std::string_view::npos;
}

std::string Trim(std::string s, char c) {
  while (!s.empty() && s.back() == c) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == c) ++i;
  return s.substr(i);
}

}  // namespace

bool IsOperationalReason(std::string_view reason) {
  return reason == kReasonJwksUnavailable || reason == kReasonIntrospectFailed ||
         reason == kReasonStatusUnavailable;
}

bool Verdict::Allows(std::string_view resource, std::string_view action) const {
  return ok && grants::Allows(claims.grants, resource, action);
}

struct Verifier::State {
  VerifierOptions opt;
  JwksFetcher fetch;       // empty in online-only mode
  bool refreshable = true;  // false for a fixed JWKS
  HttpOptions http;

  mutable std::mutex mu;  // guards the cache fields below
  std::shared_ptr<const json> jwks;
  TimePoint fetched_at{};
  std::optional<TimePoint> last_attempt;
  Status last_error;

  std::mutex fetch_mu;  // one fetch at a time
  std::atomic<int> fetches{0};
  std::unique_ptr<StatusLists> status;  // offline mode with check_status
  std::unique_ptr<HolderCheck> holder;  // DPoP proofs of bound credentials (offline)

  TimePoint Now() const { return opt.clock ? opt.clock() : std::chrono::system_clock::now(); }

  // Fetches and installs a JWKS. REQUIRES: fetch_mu held, mu not held.
  Status FetchLocked(TimePoint now) {
    {
      std::lock_guard lock(mu);
      last_attempt = now;
    }
    ++fetches;
    Result<json> doc = fetch();
    if (doc.ok()) {
      Status shape = CheckJwksShape(*doc);
      if (!shape.ok()) doc = Status::Unavailable("JWKS source: " + shape.message());
    }
    std::lock_guard lock(mu);
    if (!doc.ok()) {
      last_error = doc.status();
      return doc.status();
    }
    jwks = std::make_shared<const json>(std::move(doc).value());
    fetched_at = now;
    last_error = Status::Ok();
    return Status::Ok();
  }

  // The JWKS to verify with: the cached one, refreshed first when absent or
  // older than jwks_max_age (subject to the retry intervals).
  Result<std::shared_ptr<const json>> Current(TimePoint now) {
    {
      std::lock_guard lock(mu);
      if (jwks && (!refreshable || now - fetched_at < opt.jwks_max_age)) return jwks;
      if (!refreshable) return Status::Unavailable("no JWKS");
    }
    std::lock_guard fetch_lock(fetch_mu);
    {
      std::lock_guard lock(mu);
      if (jwks && now - fetched_at < opt.jwks_max_age) return jwks;  // another thread refreshed
      auto retry = jwks ? opt.min_refetch_interval : std::min<std::chrono::seconds>(opt.min_refetch_interval,
                                                                                      kColdRetryInterval);
      if (last_attempt && now - *last_attempt < retry) {
        if (jwks) return jwks;
        return last_error.ok() ? Status::Unavailable("JWKS not fetched yet") : last_error;
      }
    }
    Status s = FetchLocked(now);
    std::lock_guard lock(mu);
    if (jwks) return jwks;  // a failed refresh keeps the previous keys
    return s;
  }

  // The JWKS to check a token signed by `kid` with: the current one,
  // refetched once (subject to the interval) when it lacks that kid; the
  // caller sees whether it has it now. Non-OK when no JWKS can be had.
  Result<std::shared_ptr<const json>> KeysFor(TimePoint now, std::string_view kid) {
    TC_ASSIGN_OR_RETURN(std::shared_ptr<const json> current, Current(now));
    if (JwksHasKid(*current, kid)) return current;
    std::shared_ptr<const json> again = RefetchForKid(now, kid);
    return again ? again : current;
  }

  // After an unknown kid: refetch unless the interval forbids it. Returns
  // the JWKS to use (possibly unchanged).
  std::shared_ptr<const json> RefetchForKid(TimePoint now, std::string_view kid) {
    if (!refreshable) {
      std::lock_guard lock(mu);
      return jwks;
    }
    std::lock_guard fetch_lock(fetch_mu);
    {
      std::lock_guard lock(mu);
      if (jwks && JwksHasKid(*jwks, kid)) return jwks;  // another thread already saw it
      if (last_attempt && now - *last_attempt < opt.min_refetch_interval) return jwks;
    }
    (void)FetchLocked(now);
    std::lock_guard lock(mu);
    return jwks;
  }
};

Verifier::Verifier(std::unique_ptr<State> state) : state_(std::move(state)) {}
Verifier::~Verifier() = default;

Result<std::unique_ptr<Verifier>> Verifier::Create(VerifierOptions options) {
  auto st = std::make_unique<State>();
  st->http.ca_file = options.ca_file;
  st->http.insecure_skip_verify = options.insecure_skip_verify;
  st->http.timeout = options.http_timeout;
  if (options.http_timeout.count() <= 0) return Status::InvalidArgument("http_timeout must be positive");
  if (options.leeway.count() < 0 || options.leeway > kMaxLeeway) {
    return Status::InvalidArgument("leeway must be between 0 and " + std::to_string(kMaxLeeway.count()) + " seconds");
  }
  if (options.min_refetch_interval.count() < 0) {
    return Status::InvalidArgument("min_refetch_interval must not be negative");
  }
  if (options.jwks_max_age.count() <= 0) return Status::InvalidArgument("jwks_max_age must be positive");

  int sources = (options.jwks_url.empty() ? 0 : 1) + (options.jwks_file.empty() ? 0 : 1) +
                (options.jwks.has_value() ? 1 : 0) + (options.fetcher ? 1 : 0);
  if (sources > 1) return Status::InvalidArgument("give exactly one JWKS source (jwks_url, jwks_file, jwks or fetcher)");
  const bool offline = sources == 1;
  const bool online = !options.vault_addr.empty();
  if (!offline && !online) {
    return Status::InvalidArgument("configure a JWKS source (offline mode) or vault_addr (online mode)");
  }
  if (offline) {
    if (options.issuer.empty()) return Status::InvalidArgument("issuer is required to verify offline");
    if (options.audience.empty()) return Status::InvalidArgument("audience is required to verify offline");
    if (!options.jwks_url.empty()) {
      auto url = ParseUrl(options.jwks_url);
      if (!url.ok()) return url.status().WithContext("jwks_url");
      std::string u = options.jwks_url;
      HttpOptions http = st->http;
      st->fetch = [u, http]() { return FetchJwksUrl(u, http); };
    } else if (!options.jwks_file.empty()) {
      TC_ASSIGN_OR_RETURN(json doc, ReadJwksFile(options.jwks_file));
      std::string path = options.jwks_file;
      st->fetch = [path]() -> Result<json> {
        auto d = ReadJwksFile(path);
        if (!d.ok()) return Status::Unavailable(d.status().message());
        return d;
      };
      st->jwks = std::make_shared<const json>(std::move(doc));
    } else if (options.jwks.has_value()) {
      auto doc = NormalizeJwks(*options.jwks);
      if (!doc.ok()) return doc.status().WithContext("jwks");
      st->jwks = std::make_shared<const json>(std::move(doc).value());
      st->refreshable = false;
    } else {
      st->fetch = options.fetcher;
    }
  }
  if (online) {
    auto url = ParseUrl(options.vault_addr);
    if (!url.ok()) return url.status().WithContext("vault_addr");
    if (options.vault_token.empty()) return Status::InvalidArgument("vault_token is required with vault_addr");
    options.mount = Trim(options.mount, '/');
    if (!ValidMount(options.mount)) {
      return Status::InvalidArgument("mount must be a Vault mount path ([A-Za-z0-9._/-], no \"..\")");
    }
    options.vault_addr = Trim(options.vault_addr, '/');
  }
  if (options.dpop_iat_window.count() <= 0 || options.dpop_iat_window > std::chrono::seconds(3600)) {
    return Status::InvalidArgument("dpop_iat_window must be between 1 and 3600 seconds");
  }
  st->holder = std::make_unique<HolderCheck>(options.dpop_iat_window);
  if (offline && options.check_status) {
    if (options.status_max_stale.count() < 0) return Status::InvalidArgument("status_max_stale must not be negative");
    auto lists = StatusLists::Create({.issuer = options.issuer,
                                      .leeway = options.leeway,
                                      .max_stale = options.status_max_stale,
                                      .file = options.status_list_file,
                                      .fetcher = options.status_fetcher,
                                      .http = st->http});
    if (!lists.ok()) return lists.status();
    st->status = std::move(lists).value();
  }
  st->opt = std::move(options);
  if (st->jwks) st->fetched_at = st->Now();
  return std::unique_ptr<Verifier>(new Verifier(std::move(st)));
}

bool Verifier::online() const { return !state_->opt.vault_addr.empty(); }
const VerifierOptions& Verifier::options() const { return state_->opt; }
int Verifier::jwks_fetch_count() const { return state_->fetches.load(); }
int Verifier::status_fetch_count() const { return state_->status ? state_->status->fetch_count() : 0; }

Status Verifier::RefreshJwks() {
  if (!state_->fetch) {
    return state_->jwks ? Status::Ok() : Status::InvalidArgument("no JWKS source configured");
  }
  std::lock_guard fetch_lock(state_->fetch_mu);
  return state_->FetchLocked(state_->Now());
}

Verdict Verifier::VerifyOffline(std::string_view token, const DpopRequest& dpop) {
  State& st = *state_;
  if (!st.fetch && !st.jwks) return Refuse(kReasonJwksUnavailable, "offline verification is not configured");
  auto decoded = crypto::DecodeJwt(token);
  if (!decoded.ok()) return Refuse(kReasonMalformed, decoded.status().message());
  const json& header = decoded->header;
  if (header.contains("typ")) {
    const json& typ = header["typ"];
    if (!typ.is_string() || (typ != "JWT" && typ != "jwt")) return Refuse(kReasonMalformed, "header typ must be JWT");
  }
  const std::string alg = header["alg"].get<std::string>();
  if (alg != "EdDSA" && alg != "ES256" && alg != "RS256") {
    return Refuse(kReasonBadSignature, "algorithm \"" + alg.substr(0, 16) + "\" is not accepted (EdDSA, ES256, RS256)");
  }
  if (!header.contains("kid") || !header["kid"].is_string() || header["kid"].get_ref<const std::string&>().empty()) {
    return Refuse(kReasonMalformed, "header has no kid");
  }
  const std::string kid = header["kid"].get<std::string>();

  const TimePoint now_tp = st.Now();
  auto keys = st.KeysFor(now_tp, kid);
  if (!keys.ok()) return Refuse(kReasonJwksUnavailable, keys.status().message());
  if (!JwksHasKid(**keys, kid)) return Refuse(kReasonUnknownKid, "no key with this kid in the JWKS");
  Status sig = crypto::VerifyJwtSignature(*decoded, **keys);
  if (!sig.ok()) {
    if (sig.kind() == ErrorKind::kPermissionDenied) return Refuse(kReasonBadSignature, sig.message());
    return Refuse(kReasonJwksUnavailable, sig.message());
  }

  // The signature is good: the claims are the issuer's.
  const json& c = decoded->claims;
  const VerifierOptions& o = st.opt;
  if (!c.contains("iss") || !c["iss"].is_string() || c["iss"] != o.issuer) {
    return Refuse(kReasonWrongIssuer, "iss does not equal the configured issuer");
  }
  if (c.contains("aud") && !c["aud"].is_string() && !c["aud"].is_array()) {
    return Refuse(kReasonMalformed, "aud must be a string or an array of strings");
  }
  std::vector<std::string> aud = AudienceList(c);
  if (std::find(aud.begin(), aud.end(), o.audience) == aud.end()) {
    return Refuse(kReasonWrongAudience, "aud does not contain the configured audience");
  }
  auto exp = NumericClaim(c, "exp");
  auto nbf = NumericClaim(c, "nbf");
  auto iat = NumericClaim(c, "iat");
  for (const auto* r : {&exp, &nbf, &iat}) {
    if (!r->ok()) return Refuse(kReasonMalformed, r->status().message());
  }
  if (!exp->has_value()) return Refuse(kReasonMalformed, "exp is required");
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(now_tp.time_since_epoch()).count();
  const int64_t leeway = o.leeway.count();
  if (now >= **exp + leeway) return Refuse(kReasonExpired, "exp is in the past (leeway " + std::to_string(leeway) + " s)");
  if (nbf->has_value() && now + leeway < **nbf) return Refuse(kReasonNotYetValid, "nbf is in the future");
  if (iat->has_value() && now + leeway < **iat) return Refuse(kReasonNotYetValid, "iat is in the future");
  if (!c.contains("jti") || !c["jti"].is_string() || c["jti"].get_ref<const std::string&>().empty()) {
    return Refuse(kReasonMalformed, "jti (the task id) is required");
  }
  if (!c.contains("grants")) return Refuse(kReasonMalformed, "grants claim is required");
  auto grants = grants::ParseRenderedGrants(c["grants"]);
  if (!grants.ok()) return Refuse(kReasonMalformed, "grants claim: " + grants.status().message());
  if (st.status) {
    // The list is signed by the same mount: checked with the same keys.
    auto verify_list = [&st, now_tp](const crypto::DecodedJwt& list) -> Status {
      TC_ASSIGN_OR_RETURN(crypto::JwtKeyId id, crypto::JwtKeyIdOf(list));
      TC_ASSIGN_OR_RETURN(std::shared_ptr<const json> list_keys, st.KeysFor(now_tp, id.kid));
      return crypto::VerifyJwtSignature(list, *list_keys);
    };
    StatusLists::Finding f = st.status->Check(c, now_tp, verify_list);
    if (!f.reason.empty()) return Refuse(f.reason, std::move(f.detail));
  }
  if (HolderCheck::Finding f = st.holder->Check(c, token, dpop.proof, dpop.method, dpop.url, now); !f.reason.empty()) {
    return Refuse(f.reason, std::move(f.detail));
  }

  Verdict v;
  v.ok = true;
  v.reason = std::string(kReasonOk);
  v.claims.iss = c["iss"].get<std::string>();
  v.claims.sub = OptionalString(c, "sub");
  v.claims.aud = std::move(aud);
  v.claims.task_id = c["jti"].get<std::string>();
  v.claims.task = OptionalString(c, "task");
  v.claims.role = OptionalString(c, "role");
  v.claims.instance = OptionalString(c, "instance");
  v.claims.exp = **exp;
  v.claims.nbf = nbf->value_or(0);
  v.claims.iat = iat->value_or(0);
  if (c.contains("max_uses") && c["max_uses"].is_number_integer()) v.claims.max_uses = c["max_uses"].get<int64_t>();
  v.claims.grants = std::move(grants).value();
  v.claims.raw = c;
  return v;
}

Verdict Verifier::VerifyOnline(std::string_view token, bool consume, std::string_view resource,
                               std::string_view action, const DpopRequest& dpop) {
  const VerifierOptions& o = state_->opt;
  if (o.vault_addr.empty()) return Refuse(kReasonIntrospectFailed, "online verification is not configured");
  if (token.empty() || token.size() > crypto::kMaxJwtBytes) {
    return Refuse(kReasonMalformed, "credential is empty or larger than 16 KiB");
  }
  if (resource.empty() != action.empty()) {
    return Refuse(kReasonNotAllowed, "resource and action must be given together");
  }
  json body = {{"token", std::string(token)}};
  if (consume) body["consume"] = true;
  if (!dpop.proof.empty()) {
    body["dpop_proof"] = std::string(dpop.proof);
    body["method"] = std::string(dpop.method);
    body["url"] = std::string(dpop.url);
  }
  if (!resource.empty()) {
    body["resource"] = std::string(resource);
    body["action"] = std::string(action);
  }
  HttpHeaders headers = {{"X-Vault-Token", o.vault_token},
                         {"X-Vault-Request", "true"},
                         {"Content-Type", "application/json"}};
  if (!o.vault_namespace.empty()) headers.emplace_back("X-Vault-Namespace", o.vault_namespace);
  const std::string url = o.vault_addr + "/v1/" + o.mount + "/introspect";
  auto res = HttpCall("PUT", url, headers, body.dump(), state_->http);
  if (!res.ok()) return Refuse(kReasonIntrospectFailed, res.status().message());
  json doc = json::parse(res->body, nullptr, false);
  if (res->status != 200) {
    std::string detail = "introspect answered HTTP " + std::to_string(res->status);
    if (!doc.is_discarded() && doc.is_object() && doc.contains("errors") && doc["errors"].is_array() &&
        !doc["errors"].empty() && doc["errors"][0].is_string()) {
      detail += ": " + doc["errors"][0].get<std::string>().substr(0, 256);
    }
    return Refuse(kReasonIntrospectFailed, detail);
  }
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("data") || !doc["data"].is_object()) {
    return Refuse(kReasonIntrospectFailed, "introspect answer has no data object");
  }
  const json& d = doc["data"];
  if (!d.contains("active") || d["active"] != true) {
    return Refuse(kReasonInactive, "the credential is not active (unknown, expired, revoked, released or spent)");
  }
  Verdict v;
  v.claims.raw = d;
  v.claims.iss = OptionalString(d, "iss");
  v.claims.sub = OptionalString(d, "sub");
  v.claims.aud = AudienceList(d);
  v.claims.task_id = OptionalString(d, "task_id");
  v.claims.task = OptionalString(d, "task");
  v.claims.role = OptionalString(d, "role");
  v.claims.instance = OptionalString(d, "instance");
  auto exp = NumericClaim(d, "exp");
  auto iat = NumericClaim(d, "iat");
  if (exp.ok()) v.claims.exp = exp->value_or(0);
  if (iat.ok()) v.claims.iat = iat->value_or(0);
  if (d.contains("uses_remaining") && d["uses_remaining"].is_number_integer()) {
    v.claims.uses_remaining = d["uses_remaining"].get<int64_t>();
  }
  auto grants = grants::ParseRenderedGrants(d.contains("grants") ? d["grants"] : json());
  if (!grants.ok()) return Refuse(kReasonMalformed, "introspect grants: " + grants.status().message());
  v.claims.grants = std::move(grants).value();
  if (!o.issuer.empty() && v.claims.iss != o.issuer) {
    Verdict r = Refuse(kReasonWrongIssuer, "iss does not equal the configured issuer");
    r.claims = std::move(v.claims);
    return r;
  }
  if (!o.audience.empty() &&
      std::find(v.claims.aud.begin(), v.claims.aud.end(), o.audience) == v.claims.aud.end()) {
    Verdict r = Refuse(kReasonWrongAudience, "aud does not contain the configured audience");
    r.claims = std::move(v.claims);
    return r;
  }
  if (!resource.empty()) {
    // The engine's answer decides; the local check is the same code and
    // only guards against a confused answer.
    bool allowed = d.contains("allowed") && d["allowed"] == true &&
                   grants::Allows(v.claims.grants, resource, action);
    if (!allowed) {
      Verdict r = Refuse(kReasonNotAllowed, "no grant allows this action on this resource");
      r.claims = std::move(v.claims);
      return r;
    }
  }
  v.ok = true;
  v.reason = std::string(kReasonOk);
  return v;
}

Verdict Verifier::Check(std::string_view token, std::string_view resource, std::string_view action,
                        const DpopRequest& dpop) {
  if (resource.empty() != action.empty()) {
    return Refuse(kReasonNotAllowed, "resource and action must be given together");
  }
  if (online()) return VerifyOnline(token, state_->opt.consume, resource, action, dpop);
  Verdict v = VerifyOffline(token, dpop);
  if (v.ok && !resource.empty() && !v.Allows(resource, action)) {
    v.ok = false;
    v.reason = std::string(kReasonNotAllowed);
    v.detail = "no grant allows this action on this resource";
  }
  return v;
}

}  // namespace taskcred::kit
