// HolderCheck: the kit's side of DPoP (RFC 9449, docs/kit.md "DPoP"). A
// credential whose claims carry cnf.jkt is accepted only with a proof of
// that key for the request it came with; each proof's jti is accepted once.
// Internal to the kit (the Verifier owns one). Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dpop/dpop.h"

namespace taskcred::kit {

class HolderCheck {
 public:
  explicit HolderCheck(std::chrono::seconds iat_window) : iat_window_(iat_window.count()) {}

  struct Finding {
    std::string_view reason;  // "" = no objection, else dpop_required / dpop_invalid / malformed
    std::string detail;
  };
  // `claims`: the credential's verified claims (offline) or the introspect
  // answer; `token` the credential itself (ath).
  Finding Check(const nlohmann::json& claims, std::string_view token, std::string_view proof,
                std::string_view method, std::string_view url, int64_t now);

 private:
  int64_t iat_window_;
  dpop::ReplayCache replays_;
};

}  // namespace taskcred::kit
