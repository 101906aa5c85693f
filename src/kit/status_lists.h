// StatusLists: the kit's side of the Token Status List (docs/kit.md, "Status
// lists"). Given the verified claims of a credential, finds the list its
// "status" claim names -- fetched from its uri (only a uri under the
// configured issuer), from a custom fetcher, or from one list token on disk
// -- checks that list (a statuslist+jwt signed by a key of the mount's JWKS,
// sub = the uri, not expired) and answers whether the credential's bit is
// set. A fetched list is cached for its ttl; when it cannot be refreshed it
// is used until ttl + max_stale after its fetch (and never past its exp),
// then the check fails closed (status_unavailable).
//
// Internal to the kit (the Verifier owns one). Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "crypto/jwt.h"
#include "kit/http_client.h"
#include "statuslist/status_list.h"

namespace taskcred::kit {

class StatusLists {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  // Verifies a list token's signature with the mount's keys (the Verifier's
  // JWKS): kPermissionDenied when it does not verify.
  using SignatureCheck = std::function<common::Status(const crypto::DecodedJwt&)>;
  // uri -> the list token (the raw body of status/<list_id>).
  using Fetcher = std::function<common::Result<std::string>(const std::string& uri)>;

  struct Config {
    std::string issuer;  // lists are fetched only from <issuer>/status/...
    std::chrono::seconds leeway{30};
    std::chrono::seconds max_stale{300};
    std::string file;    // one list token on disk, instead of fetching
    Fetcher fetcher;     // a custom source, instead of HTTP GET
    HttpOptions http;
  };

  // Reads `config.file` when given (kInvalidArgument naming it when it is
  // unreadable or not a JWT); fetches nothing.
  static common::Result<std::unique_ptr<StatusLists>> Create(Config config);

  // What Check found.
  struct Finding {
    std::string_view reason;  // kit reason: "" = no objection, else malformed/revoked/status_unavailable
    std::string detail;
  };
  // `claims`: a credential's verified claims. No "status" claim: no objection.
  Finding Check(const nlohmann::json& claims, TimePoint now, const SignatureCheck& verify);

  int fetch_count() const;

 private:
  struct List {
    statuslist::BitList bits{0};
    TimePoint fetched_at{};
    std::chrono::seconds ttl{0};
    int64_t exp = 0;
  };
  explicit StatusLists(Config config) : config_(std::move(config)) {}
  // The list token checked and decoded.
  common::Result<List> Parse(std::string_view token, const std::string& uri, TimePoint now,
                             const SignatureCheck& verify) const;
  common::Result<std::string> Fetch(const std::string& uri) const;
  // The list to check `uri` against (fresh, or stale within the bounds).
  common::Result<std::shared_ptr<const List>> Get(const std::string& uri, TimePoint now, const SignatureCheck& verify);

  Config config_;
  std::string file_token_;
  mutable std::mutex mu_;  // the fields below
  struct Entry {
    std::shared_ptr<const List> list;
    std::optional<TimePoint> last_attempt;
    common::Status last_error;
  };
  std::map<std::string, Entry> entries_;
  std::mutex fetch_mu_;  // one fetch at a time
  int fetches_ = 0;      // guarded by mu_
};

}  // namespace taskcred::kit
