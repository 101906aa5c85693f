// introspect (update): RFC 7662-style check; release (update): the holder ends its run.
#include <utility>

#include "engine/field_names.h"
#include "engine/path_util.h"
#include "engine/services.h"
#include "framework/response.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kIntrospectSynopsis =
    "Check a credential (RFC 7662 style), optionally spend one use.";
constexpr std::string_view kIntrospectDescription = R"(
Answers {"active": false} and nothing else for a token that is unknown,
malformed, badly signed, from another issuer, expired, revoked, released or
spent. When active: iss, task, task_id, role, grants, sub, aud, exp, iat,
credential_type, instance (when set) and uses_remaining (only when the role
limits uses). With resource and action (both or neither) the answer adds
"allowed": whether the rendered grants allow that action on that resource.
consume=true spends one use atomically, and only when the answer is active and
(if asked) allowed; concurrent consumers of a single-use credential get
exactly one active answer.

A credential bound to a key (role binding=dpop, or issued with dpop_jkt;
the answer then carries cnf {"jkt"}) is active only together with
dpop_proof: a DPoP proof (RFC 9449) signed by that key for the request the
resource service received -- method and url (its query and fragment are
ignored), iat within 60 s, ath the hash of this credential -- whose jti has
not been seen before. Without one it answers {"active": false}.
)";
constexpr std::string_view kReleaseSynopsis = "End your own task: the credential becomes inactive at once.";
constexpr std::string_view kReleaseDescription = R"(
The holder of a credential releases it when its run is over; from then on it
introspects inactive (its lease then expires harmlessly). Idempotent. To avoid
turning release into a validity oracle, any non-empty token gets the same
empty 204 answer whether or not it named a live credential.
)";

class IntrospectHandlers {
 public:
  explicit IntrospectHandlers(std::shared_ptr<Services> s) : s_(std::move(s)) {}

  HandlerResult Introspect(Request& req, const FieldData& d) {
    IntrospectInput in;
    TC_ASSIGN_OR_RETURN(in.token, RequiredToken(d));
    if (d.Has(kFieldResource) != d.Has(kFieldAction)) {
      return Status::InvalidArgument("resource, action: give both or neither");
    }
    if (d.Has(kFieldResource)) {
      TC_ASSIGN_OR_RETURN(std::string resource, d.GetString(kFieldResource));
      TC_ASSIGN_OR_RETURN(std::string action, d.GetString(kFieldAction));
      if (resource.empty()) return Status::InvalidArgument("resource: must not be empty");
      if (action.empty()) return Status::InvalidArgument("action: must not be empty");
      in.resource = std::move(resource);
      in.action = std::move(action);
    }
    TC_ASSIGN_OR_RETURN(in.consume, d.GetBool(kFieldConsume));
    TC_RETURN_IF_ERROR(ReadDpopProof(d, in));
    TC_ASSIGN_OR_RETURN(nlohmann::json answer, s_->introspector.Introspect(*req.storage, in));
    return framework::RespondWith(std::move(answer));
  }

  HandlerResult Release(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(std::string token, RequiredToken(d));
    TC_ASSIGN_OR_RETURN(bool released, s_->introspector.Release(*req.storage, token));
    (void)released;  // deliberately not revealed
    return framework::NoResponse();
  }

 private:
  std::shared_ptr<Services> s_;
};

}  // namespace

Result<std::string> RequiredToken(const FieldData& d) {
  TC_ASSIGN_OR_RETURN(std::string token, d.GetString(kFieldToken));
  if (token.empty()) return Status::InvalidArgument("token: is required");
  return token;
}

Status ReadDpopProof(const FieldData& d, IntrospectInput& in) {
  if (!d.Has(kFieldDpopProof)) return Status::Ok();
  TC_ASSIGN_OR_RETURN(in.dpop_proof, d.GetString(kFieldDpopProof));
  TC_ASSIGN_OR_RETURN(in.method, d.GetString(kFieldMethod));
  TC_ASSIGN_OR_RETURN(in.url, d.GetString(kFieldUrl));
  if (in.method.empty() || in.url.empty()) {
    return Status::InvalidArgument("method, url: required with dpop_proof (the request the proof is for)");
  }
  return Status::Ok();
}

framework::FieldSchemaList HolderFields(std::string_view token_description) {
  framework::FieldSchema token{.name = kFieldToken, .type = FieldType::kString,
                               .description = std::string(token_description)};
  token.display_attrs.sensitive = true;
  return {token,
          {.name = kFieldDpopProof,
           .type = FieldType::kString,
           .description = "DPoP proof (RFC 9449) of the request; required for bound credentials."},
          {.name = kFieldMethod,
           .type = FieldType::kString,
           .description = "HTTP method of the request the DPoP proof is for (with dpop_proof)."},
          {.name = kFieldUrl,
           .type = FieldType::kString,
           .description = "URL of the request the DPoP proof is for (with dpop_proof)."}};
}

std::vector<framework::Path> IntrospectPaths(std::shared_ptr<Services> s) {
  auto h = std::make_shared<IntrospectHandlers>(std::move(s));
  framework::FieldSchemaList fields = HolderFields("The credential (JWT or opaque token).");
  framework::FieldSchema token = fields.front();
  fields.insert(fields.begin() + 1,
                {{.name = kFieldResource,
                  .type = FieldType::kString,
                  .description = "Resource to check against the grants (with action)."},
                 {.name = kFieldAction,
                  .type = FieldType::kString,
                  .description = "Action to check against the grants (with resource)."},
                 {.name = kFieldConsume, .type = FieldType::kBool, .description = "Spend one use of the credential."}});
  return {
      {.pattern = "introspect",
       .fields = std::move(fields),
       .operations = {{Operation::kUpdate,
                       {Bind(h, &IntrospectHandlers::Introspect), "Introspect a credential."}}},
       .help = {kIntrospectSynopsis, kIntrospectDescription}},
      {.pattern = "release",
       .fields = {token},
       .operations = {{Operation::kUpdate,
                       {Bind(h, &IntrospectHandlers::Release), "Release (end) your own credential."}}},
       .help = {kReleaseSynopsis, kReleaseDescription}},
  };
}

}  // namespace taskcred::engine
