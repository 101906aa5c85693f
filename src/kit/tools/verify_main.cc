// taskcred-verify: check one taskcred credential from the command line.
// Exit status: 0 valid (and allowed, when asked), 1 refused, 2 usage or
// operational error. See kUsage and docs/kit.md.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "kit/tools/tool_util.h"
#include "kit/verifier.h"

namespace {

constexpr char kUsage[] = R"(usage:
  taskcred-verify --jwks URL|FILE --issuer ISSUER --audience AUDIENCE
                  [--status-list FILE | --no-status-list] [--resource R --action A]
                  [--dpop PROOF --method M --url U] [--leeway SECONDS] [--json] TOKEN|-
  taskcred-verify --introspect [--vault-addr ADDR] [--vault-token T] [--namespace NS]
                  [--mount taskcred] [--consume] [--issuer I] [--audience A]
                  [--resource R --action A] [--dpop PROOF --method M --url U] [--json] TOKEN|-

Verifies a taskcred credential and, with --resource/--action, whether its
grants allow that action on that resource (docs/grants.md).

Offline (--jwks): checks the signature against the mount's JWKS, fetched from
an http(s) URL (e.g. $VAULT_ADDR/v1/taskcred/jwks) or read from a file, then
iss (exact), aud (must contain AUDIENCE), exp/nbf/iat with a leeway, then
the Token Status List the credential names (its "status" claim): fetched
from its uri, which must be under ISSUER (set the mount's issuer to its URL,
e.g. $VAULT_ADDR/v1/taskcred), or read from --status-list FILE; a set bit
(revoked, released, used up) is "revoked".
Online (--introspect): asks Vault (PUT <addr>/v1/<mount>/introspect), which
also sees revocation, release and use counts; --consume spends one use.

TOKEN is the credential; "-" reads it from standard input (preferred: an
argument is visible to other users in the process list).

options:
  --jwks URL|FILE          JWKS source (offline mode)
  --issuer ISSUER          expected iss (required offline; checked online when given)
  --audience AUDIENCE      expected audience (required offline; checked online when given)
  --resource R             resource to authorize, e.g. s3://backups/db1/4711
  --action A               action to authorize, e.g. write (with --resource)
  --leeway SECONDS         clock skew allowed for exp/nbf/iat, 0..300 (default 30)
  --dpop PROOF             the DPoP proof (RFC 9449) the request carried: required for a
                           credential bound to a key (cnf.jkt); with --method and --url,
                           the request it must be for (the URL's query is ignored)
  --method M, --url U      the request the DPoP proof is for
  --status-list FILE       check against this status list (the raw body of
                           status/<list_id>) instead of fetching it
  --no-status-list         do not check status lists (revocation goes unseen)
  --status-max-stale S     use a list that cannot be refreshed at most S seconds
                           past its ttl, then fail closed (default 300)
  --introspect             online mode
  --vault-addr ADDR        Vault address (default $VAULT_ADDR)
  --vault-token T          Vault token allowed to update <mount>/introspect (default $VAULT_TOKEN)
  --namespace NS           Vault namespace (default $VAULT_NAMESPACE)
  --mount PATH             the taskcred mount (default taskcred)
  --consume                spend one use of a max_uses credential (online mode)
  --ca-file FILE           CA bundle for https (default $VAULT_CACERT, else the system store)
  --insecure-skip-verify   do not verify TLS certificates (testing only)
  --timeout-ms N           HTTP timeout (default 5000)
  --json                   print the verdict as JSON: {"ok","reason","detail","claims"}
  -h, --help               this text

exit status:
  0  valid (and allowed, when --resource/--action are given)
  1  refused; the reason is printed: malformed, bad_signature, unknown_kid,
     wrong_issuer, wrong_audience, expired, not_yet_valid, revoked, inactive,
     dpop_required, dpop_invalid, not_allowed
  2  usage error, or the JWKS / status list / Vault could not be had
     (jwks_unavailable, status_unavailable, introspect_failed)
)";

int UsageError(const std::string& message) {
  std::cerr << "taskcred-verify: " << message << "\n(run taskcred-verify --help for usage)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using taskcred::kit::tools::ParseFlags;
  std::set<std::string> with_value = taskcred::kit::tools::VerifierValueFlags();
  with_value.insert({"--resource", "--action", "--dpop", "--method", "--url"});
  std::set<std::string> switches = taskcred::kit::tools::VerifierSwitches();
  switches.insert({"--json", "--help"});
  if (argc <= 1) {
    std::cerr << kUsage;
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
  }
  auto flags = ParseFlags(argc, argv, with_value, switches);
  if (!flags.ok()) return UsageError(flags.status().message());
  if (flags->positional.size() != 1) return UsageError("give exactly one TOKEN (or - to read it from stdin)");
  auto options = taskcred::kit::tools::OptionsFromFlags(*flags);
  if (!options.ok()) return UsageError(options.status().message());
  std::string resource = flags->values.count("--resource") ? flags->values["--resource"] : "";
  std::string action = flags->values.count("--action") ? flags->values["--action"] : "";
  if (resource.empty() != action.empty()) return UsageError("--resource and --action go together");
  const bool json_out = flags->switches.count("--json") != 0;
  auto value = [&](const char* f) { return flags->values.count(f) ? flags->values[f] : std::string(); };
  const std::string proof = value("--dpop"), method = value("--method"), url = value("--url");
  if (proof.empty() != method.empty() || proof.empty() != url.empty()) {
    return UsageError("--dpop, --method and --url go together");
  }

  std::string token = flags->positional[0];
  if (token == "-") {
    token.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  }
  if (token.empty()) return UsageError("the token is empty");

  auto verifier = taskcred::kit::Verifier::Create(std::move(options).value());
  if (!verifier.ok()) return UsageError(verifier.status().message());
  taskcred::kit::Verdict v = (*verifier)->Check(token, resource, action, {proof, method, url});

  if (json_out) {
    nlohmann::json out = taskcred::kit::tools::VerdictToJson(v);
    if (!resource.empty()) out["allowed"] = v.ok;
    std::cout << out.dump() << "\n";
  } else if (v.ok) {
    std::cout << (resource.empty() ? "valid" : "allowed") << ": task_id=" << v.claims.task_id
              << " task=" << v.claims.task << " role=" << v.claims.role << " sub=" << v.claims.sub << "\n";
  } else {
    std::cout << "refused: " << v.reason << ": " << v.detail << "\n";
  }
  if (v.ok) return 0;
  return taskcred::kit::IsOperationalReason(v.reason) ? 2 : 1;
}
