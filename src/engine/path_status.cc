// status/<list_id> (read, unauthenticated, raw application/statuslist+jwt)
// and status/ (list): the Token Status Lists (docs/status_list.md).
#include <utility>

#include "crypto/encoding.h"
#include "engine/path_util.h"
#include "engine/services.h"
#include "framework/response.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kFieldListId = "list_id";

constexpr std::string_view kStatusSynopsis = "Token Status Lists of this mount's JWTs, unauthenticated.";
constexpr std::string_view kStatusDescription = R"(
Every JWT credential issued while config status_list is on names a list and
an index in its "status" claim (IETF Token Status List). Reading
status/<list_id> returns that list as a raw body (no Vault response envelope),
Content-Type application/statuslist+jwt, Cache-Control max-age=
status_list_ttl: a JWT signed by the mount's active key (typ statuslist+jwt)
with claims sub (the list's URI), iat, exp, ttl and status_list {"bits": 1,
"lst": base64url(zlib(bits))}. Bit idx (least significant bit first within a
byte) is 1 once its task was revoked (by Vault, including at lease expiry),
released or used up. A list is re-signed at most once a second. Listing
status/ names the lists that exist; a list is deleted by tidy an hour after
all its credentials expired.
)";

class StatusHandlers {
 public:
  explicit StatusHandlers(std::shared_ptr<Services> s) : s_(std::move(s)) {}

  HandlerResult Read(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(std::string list_id, d.GetString(kFieldListId));
    if (!StatusStore::IsValidListId(list_id)) return framework::NoResponse();
    TC_ASSIGN_OR_RETURN(ConfigEntry config, s_->config.Get(*req.storage));
    TC_ASSIGN_OR_RETURN(std::optional<std::string> jwt, s_->status_lists.Get(*req.storage, config, list_id));
    if (!jwt) return framework::NoResponse();
    logical::Response resp;
    resp.data = {{"http_status_code", 200},
                 {"http_content_type", kStatusListMediaType},
                 {"http_raw_body", crypto::Base64Encode(*jwt)},
                 {"http_raw_cache_control", "max-age=" + std::to_string(config.status_list_ttl)}};
    return std::optional<logical::Response>(std::move(resp));
  }

  HandlerResult List(Request& req, const FieldData&) {
    TC_ASSIGN_OR_RETURN(std::vector<std::string> ids, s_->status.ListIds(*req.storage));
    return std::optional<logical::Response>(framework::ListResponse(ids));
  }

 private:
  std::shared_ptr<Services> s_;
};

}  // namespace

std::vector<framework::Path> StatusPaths(std::shared_ptr<Services> s) {
  auto h = std::make_shared<StatusHandlers>(std::move(s));
  return {
      {.pattern = "status" + framework::OptionalTrailingSlash(),
       .operations = {{Operation::kList, {Bind(h, &StatusHandlers::List), "List the status lists."}}},
       .help = {kStatusSynopsis, kStatusDescription}},
      {.pattern = "status/(?P<list_id>[0-9a-f]{8}-[0-9]+)",
       .fields = {{.name = kFieldListId,
                   .type = FieldType::kString,
                   .required = true,
                   .description = "The list, as a credential's status claim names it (<hour>-<n>)."}},
       .operations = {{Operation::kRead, {Bind(h, &StatusHandlers::Read), "Read one status list (raw JWT)."}}},
       .help = {kStatusSynopsis, kStatusDescription}},
  };
}

}  // namespace taskcred::engine
