// What taskcred-authz answers to GET /check, apart from HTTP: the request's
// headers in, a status, a reason and a WWW-Authenticate challenge out. The
// server (authz_main.cc) reads the headers and writes the answer.
#pragma once

#include <string>

#include "kit/verifier.h"

namespace taskcred::kit::tools {

// The headers /check reads (empty when absent).
struct CheckRequest {
  std::string authorization;  // Bearer <credential> or DPoP <credential>
  std::string resource;       // X-Resource
  std::string action;         // X-Action
  std::string dpop;           // DPoP (the proof)
  std::string method;         // X-Original-Method
  std::string uri;            // X-Original-URI
  std::string duplicate;      // the name of a header given more than once
};

struct CheckAnswer {
  int status = 200;
  std::string reason;
  std::string www_authenticate;  // empty: none
  Verdict verdict;
};

// The headers this decision reads; each may be given at most once.
inline constexpr const char* kCheckHeaders[] = {"Authorization", "X-Resource",        "X-Action",
                                                "DPoP",          "X-Original-Method", "X-Original-URI"};

// 400 duplicate header, 401 missing or refused credential (Bearer or DPoP
// challenge), 403 missing resource/action or not allowed, 503 operational,
// 200 allowed. `external_url`: the base URL clients address (DPoP htu).
CheckAnswer DecideCheck(Verifier& verifier, const CheckRequest& request, const std::string& external_url);

}  // namespace taskcred::kit::tools
