#include "kit/tools/tool_util.h"

#include <strings.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace taskcred::kit::tools {

using common::Result;
using common::Status;

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

Result<long> ParseInt(const std::string& flag, const std::string& text, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
    return Status::InvalidArgument(flag + " must be an integer from " + std::to_string(lo) + " to " +
                                   std::to_string(hi));
  }
  return v;
}

}  // namespace

Result<ParsedFlags> ParseFlags(int argc, char** argv, const std::set<std::string>& with_value,
                               const std::set<std::string>& switches) {
  ParsedFlags out;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (flags_done || a == "-" || a.rfind("--", 0) != 0) {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    std::string name = a, value;
    bool inline_value = false;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    if (switches.count(name) != 0) {
      if (inline_value) return Status::InvalidArgument(name + " takes no value");
      out.switches.insert(name);
    } else if (with_value.count(name) != 0) {
      if (!inline_value) {
        if (i + 1 >= argc) return Status::InvalidArgument(name + " needs a value");
        value = argv[++i];
      }
      out.values[name] = value;
    } else {
      return Status::InvalidArgument("unknown flag " + name + " (see --help)");
    }
  }
  return out;
}

std::pair<std::string, std::string> ParseAuthorization(const std::string& value) {
  for (const char* scheme : {"Bearer", "DPoP"}) {
    const size_t n = std::strlen(scheme);
    if (value.size() > n + 1 && value[n] == ' ' && strncasecmp(value.c_str(), scheme, n) == 0) {
      std::string token = value.substr(n + 1);
      while (!token.empty() && token.front() == ' ') token.erase(0, 1);
      while (!token.empty() && token.back() == ' ') token.pop_back();
      return {scheme, token};
    }
  }
  return {"", ""};
}

std::set<std::string> VerifierValueFlags() {
  return {"--jwks",      "--issuer", "--audience", "--leeway",  "--vault-addr", "--vault-token",
          "--namespace", "--mount",  "--ca-file",  "--timeout-ms", "--min-refetch-interval",
          "--status-list", "--status-max-stale"};
}

std::set<std::string> VerifierSwitches() {
  return {"--introspect", "--consume", "--insecure-skip-verify", "--no-status-list"};
}

Result<VerifierOptions> OptionsFromFlags(const ParsedFlags& flags) {
  auto get = [&](const std::string& name, const char* env = nullptr) -> std::string {
    auto it = flags.values.find(name);
    if (it != flags.values.end()) return it->second;
    return env == nullptr ? "" : Env(env);
  };
  VerifierOptions o;
  o.issuer = get("--issuer");
  o.audience = get("--audience");
  o.ca_file = get("--ca-file", "VAULT_CACERT");
  o.insecure_skip_verify = flags.switches.count("--insecure-skip-verify") != 0;
  if (flags.values.count("--timeout-ms") != 0) {
    TC_ASSIGN_OR_RETURN(long ms, ParseInt("--timeout-ms", get("--timeout-ms"), 1, 600000));
    o.http_timeout = std::chrono::milliseconds(ms);
  }
  if (flags.values.count("--leeway") != 0) {
    TC_ASSIGN_OR_RETURN(long s, ParseInt("--leeway", get("--leeway"), 0, kMaxLeeway.count()));
    o.leeway = std::chrono::seconds(s);
  }
  if (flags.values.count("--min-refetch-interval") != 0) {
    TC_ASSIGN_OR_RETURN(long s, ParseInt("--min-refetch-interval", get("--min-refetch-interval"), 0, 86400));
    o.min_refetch_interval = std::chrono::seconds(s);
  }
  const bool introspect = flags.switches.count("--introspect") != 0;
  const std::string jwks = get("--jwks");
  if (introspect) {
    if (!jwks.empty()) return Status::InvalidArgument("--jwks and --introspect exclude each other");
    for (const char* f : {"--status-list", "--status-max-stale"}) {
      if (flags.values.count(f) != 0) {
        return Status::InvalidArgument(std::string(f) + " is for --jwks (introspection sees revocation itself)");
      }
    }
    o.vault_addr = get("--vault-addr", "VAULT_ADDR");
    o.vault_token = get("--vault-token", "VAULT_TOKEN");
    o.vault_namespace = get("--namespace", "VAULT_NAMESPACE");
    if (flags.values.count("--mount") != 0) o.mount = get("--mount");
    o.consume = flags.switches.count("--consume") != 0;
    if (o.vault_addr.empty()) return Status::InvalidArgument("--introspect needs --vault-addr (or VAULT_ADDR)");
    if (o.vault_token.empty()) return Status::InvalidArgument("--introspect needs --vault-token (or VAULT_TOKEN)");
  } else {
    for (const char* f : {"--vault-addr", "--vault-token", "--namespace", "--mount"}) {
      if (flags.values.count(f) != 0) return Status::InvalidArgument(std::string(f) + " needs --introspect");
    }
    if (flags.switches.count("--consume") != 0) return Status::InvalidArgument("--consume needs --introspect");
    // Token Status List: fetched from under the issuer unless a file is given.
    o.check_status = flags.switches.count("--no-status-list") == 0;
    o.status_list_file = get("--status-list");
    if (!o.check_status && !o.status_list_file.empty()) {
      return Status::InvalidArgument("--status-list and --no-status-list exclude each other");
    }
    if (flags.values.count("--status-max-stale") != 0) {
      TC_ASSIGN_OR_RETURN(long s, ParseInt("--status-max-stale", get("--status-max-stale"), 0, 86400));
      o.status_max_stale = std::chrono::seconds(s);
    }
    if (jwks.empty()) return Status::InvalidArgument("give --jwks URL|FILE (offline) or --introspect (online)");
    if (o.issuer.empty()) return Status::InvalidArgument("--issuer is required with --jwks");
    if (o.audience.empty()) return Status::InvalidArgument("--audience is required with --jwks");
    if (jwks.rfind("http://", 0) == 0 || jwks.rfind("https://", 0) == 0) {
      o.jwks_url = jwks;
    } else {
      o.jwks_file = jwks;
    }
  }
  return o;
}

nlohmann::json VerdictToJson(const Verdict& v) {
  nlohmann::json out = {{"ok", v.ok}, {"reason", v.reason}, {"detail", v.detail}};
  const Claims& c = v.claims;
  if (!c.task_id.empty()) {
    nlohmann::json claims = {{"task_id", c.task_id}, {"task", c.task},  {"role", c.role},
                             {"sub", c.sub},         {"iss", c.iss},    {"aud", c.aud},
                             {"exp", c.exp},         {"iat", c.iat},    {"grants", grants::GrantsToJson(c.grants)}};
    if (!c.instance.empty()) claims["instance"] = c.instance;
    if (c.max_uses) claims["max_uses"] = *c.max_uses;
    if (c.uses_remaining) claims["uses_remaining"] = *c.uses_remaining;
    out["claims"] = std::move(claims);
  }
  return out;
}

}  // namespace taskcred::kit::tools
