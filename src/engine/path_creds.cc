// creds/<role>, creds/<role>/<instance> (read, update): issue one credential.
#include <utility>

#include "engine/field_names.h"
#include "engine/path_util.h"
#include "engine/services.h"
#include "framework/response.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kCredsSynopsis = "Issue a credential for one run of the role's task.";
constexpr std::string_view kCredsDescription = R"(
Instantiates the role for one run and returns the credential as a lease
(secret type taskcred_credential). Parameter values go in the request body
(or query): every declared parameter is required, unknown names are refused
and each value must match its regex (400 otherwise). Roles without parameters
can be read. The optional <instance> segment (e.g. a CI run id, characters
[a-zA-Z0-9._-]) is available as {{instance}} and becomes part of the lease
path, so `vault lease revoke -prefix <mount>/creds/<role>/<instance>` ends
exactly that run.

dpop_jkt (an RFC 7638 SHA-256 JWK thumbprint) binds the credential to that
key: it is required by roles with binding=dpop and accepted by any role.

Response: credential, credential_type, task, task_id (also the JWT jti), role,
grants (rendered), audience, expires_at (RFC 3339), max_uses, and instance
and cnf ({"jkt": ...}) when given. The lease TTL is the role ttl bounded by max_ttl and the mount.
)";

class CredsHandlers {
 public:
  CredsHandlers(std::shared_ptr<Services> s, const framework::SecretType& secret)
      : s_(std::move(s)), secret_(secret) {}

  HandlerResult Issue(Request& req, const FieldData& d) {
    IssueInput in;
    TC_ASSIGN_OR_RETURN(in.role_name, d.GetString(kFieldRole));
    if (d.Has(kFieldInstance)) {
      TC_ASSIGN_OR_RETURN(std::string instance, d.GetString(kFieldInstance));
      // An empty capture is no <instance> segment. The rule is the issuer's
      // (ValidateInstance), shared with preview.
      if (!instance.empty()) in.instance = std::move(instance);
    }
    in.parameters = ParameterValues(req, {kFieldDpopJkt});
    TC_ASSIGN_OR_RETURN(in.dpop_jkt, DpopJktOf(req));
    in.entity_id = req.entity_id;
    in.client_token_accessor = req.client_token_accessor;
    TC_ASSIGN_OR_RETURN(Issued issued, s_->issuer.Issue(*req.storage, *req.system_view, in));

    logical::LeaseOptions lease;
    lease.ttl = std::chrono::seconds(issued.ttl);
    lease.max_ttl = std::chrono::seconds(issued.max_ttl);
    lease.renewable = issued.renewable;
    lease.issue_time = FromUnixSeconds(issued.record.issued_at);
    nlohmann::json internal = {{kFieldTaskId, issued.record.task_id}, {kFieldRole, issued.record.role}};
    logical::Response resp = framework::MakeSecretResponse(secret_, issued.ResponseData(), internal, lease);
    for (auto& w : issued.warnings) resp.AddWarning(w);
    return std::optional<logical::Response>(std::move(resp));
  }

 private:
  std::shared_ptr<Services> s_;
  framework::SecretType secret_;
};

}  // namespace

Result<std::optional<std::string>> DpopJktOf(const logical::Request& req) {
  if (!req.data.is_object()) return std::optional<std::string>();
  auto it = req.data.find(kFieldDpopJkt);
  if (it == req.data.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Status::InvalidArgument("dpop_jkt: must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

nlohmann::json ParameterValues(const logical::Request& req, std::initializer_list<std::string_view> exclude) {
  nlohmann::json out = nlohmann::json::object();
  if (!req.data.is_object()) return out;
  for (const auto& [k, v] : req.data.items()) {
    bool skip = false;
    for (auto e : exclude) skip = skip || k == e;
    if (!skip) out[k] = v;
  }
  return out;
}

std::vector<framework::Path> CredsPaths(std::shared_ptr<Services> s) {
  framework::SecretType secret = CredentialSecret(s);
  auto h = std::make_shared<CredsHandlers>(std::move(s), secret);
  auto issue = Bind(h, &CredsHandlers::Issue);
  return {{
      .pattern = "creds/(?P<role>[a-zA-Z0-9._-]+)(/(?P<instance>[a-zA-Z0-9._-]+))?",
      .fields = {{.name = kFieldRole,
                  .type = FieldType::kString,
                  .required = true,
                  .description = "Name of the role."},
                 {.name = kFieldInstance,
                  .type = FieldType::kString,
                  .description = "Optional run instance (URL segment); the value of {{instance}}."},
                 {.name = kFieldDpopJkt,
                  .type = FieldType::kString,
                  .description = "Bind the credential to this key: the RFC 7638 SHA-256 thumbprint of the "
                                 "holder's public JWK (required by roles with binding=dpop)."}},
      .operations = {{Operation::kRead, {issue, "Issue a credential (roles without parameters)."}},
                     {Operation::kUpdate, {issue, "Issue a credential with parameter values."}}},
      .help = {kCredsSynopsis, kCredsDescription},
      .takes_arbitrary_input = true,
  }};
}

}  // namespace taskcred::engine
