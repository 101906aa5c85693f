// Shared helpers of taskcred-verify and taskcred-authz: flag parsing, the
// Verifier options both tools accept, and the JSON form of a Verdict.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "kit/verifier.h"

namespace taskcred::kit::tools {

struct ParsedFlags {
  std::map<std::string, std::string> values;  // "--name" -> value (last wins)
  std::set<std::string> switches;             // boolean flags given
  std::vector<std::string> positional;
};

// "--name value", "--name=value" for names in `with_value`; names in
// `switches` take no value. "--" ends flags; "-" alone is positional.
// kInvalidArgument naming an unknown flag or a missing value.
common::Result<ParsedFlags> ParseFlags(int argc, char** argv, const std::set<std::string>& with_value,
                                       const std::set<std::string>& switches);

// The Verifier options shared by both tools (--jwks, --issuer, --audience,
// --leeway, --introspect, --vault-addr, --vault-token, --namespace, --mount,
// --consume, --ca-file, --insecure-skip-verify, --timeout-ms); VAULT_ADDR,
// VAULT_TOKEN, VAULT_NAMESPACE and VAULT_CACERT are the defaults of their
// flags. kInvalidArgument naming the flag.
common::Result<VerifierOptions> OptionsFromFlags(const ParsedFlags& flags);
// Flag names OptionsFromFlags reads.
// An Authorization header value "Bearer <token>" or "DPoP <token>" (scheme
// case-insensitive): {"Bearer" or "DPoP", token}; {"", ""} for anything else.
std::pair<std::string, std::string> ParseAuthorization(const std::string& value);

std::set<std::string> VerifierValueFlags();
std::set<std::string> VerifierSwitches();

// {"ok","reason","detail","claims":{task_id,task,role,sub,iss,aud,exp,...,grants}}.
nlohmann::json VerdictToJson(const Verdict& v);

}  // namespace taskcred::kit::tools
