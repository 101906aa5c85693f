// delegate, delegate/preview (update): a narrower credential for a sub-task.
#include <utility>

#include "engine/field_names.h"
#include "engine/path_util.h"
#include "engine/services.h"
#include "framework/response.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kDelegateSynopsis = "Issue a narrower credential for a sub-task of a credential's task.";
constexpr std::string_view kDelegateDescription = R"(
The credential given as token (with dpop_proof, method and url when it is
bound) is the parent; it must be active, and its role must allow one more
level (max_delegation_depth). The child is a task of its own with its own
lease (never renewable), carrying the parent's sub, role and task and an
"act" claim naming its chain of parents (RFC 8693). What it may do is
checked, never trusted, and every bound that is not provably narrower is a
400 naming the field:

  grants    each action on each resource must be granted by a parent grant
            (same scheme and authority; a parent literal segment only
            covers itself, "*" one segment, a final "**" one or more;
            "*" never covers "**"); default: the parent's grants
  ttl       at most the parent's remaining life (default: all of it)
  max_uses  at most the parent's remaining uses when it has a limit
            (default: them)
  audience  a subset of the parent's (default: the parent's)
  dpop_jkt  binds the child to that key; required when the role binds
  instance  default: the parent's

Delegating neither spends nor reserves the parent's uses. When the parent
is revoked, released, used up, expires or misses its heartbeat, every
descendant becomes inactive at once (introspect), and its status list bit
is set when the parent's is.
)";
constexpr std::string_view kDelegatePreviewSynopsis = "Dry run of delegate: the child it would issue.";
constexpr std::string_view kDelegatePreviewDescription = R"(
Takes the body of delegate and returns the child's grants, claims
(unsigned), ttl and audience, issuing nothing. A bound parent's DPoP proof
is checked, and spent, as delegate would.
)";

class DelegateHandlers {
 public:
  DelegateHandlers(std::shared_ptr<Services> s, const framework::SecretType& secret)
      : s_(std::move(s)), secret_(secret) {}

  HandlerResult Delegate(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(DelegateInput in, InputFrom(d));
    TC_ASSIGN_OR_RETURN(Issued issued, s_->delegator.Delegate(*req.storage, *req.system_view, in));
    logical::LeaseOptions lease;
    lease.ttl = std::chrono::seconds(issued.ttl);
    lease.max_ttl = std::chrono::seconds(issued.max_ttl);
    lease.renewable = false;
    lease.issue_time = FromUnixSeconds(issued.record.issued_at);
    nlohmann::json internal = {{kFieldTaskId, issued.record.task_id}, {kFieldRole, issued.record.role}};
    logical::Response resp = framework::MakeSecretResponse(secret_, issued.ResponseData(), internal, lease);
    for (auto& w : issued.warnings) resp.AddWarning(w);
    return std::optional<logical::Response>(std::move(resp));
  }

  HandlerResult Preview(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(DelegateInput in, InputFrom(d));
    TC_ASSIGN_OR_RETURN(Issued issued, s_->delegator.Prepare(*req.storage, *req.system_view, in));
    logical::Response resp;
    resp.data = issued.PreviewData();
    resp.warnings = issued.warnings;
    return std::optional<logical::Response>(std::move(resp));
  }

 private:
  static Result<DelegateInput> InputFrom(const FieldData& d) {
    DelegateInput in;
    TC_ASSIGN_OR_RETURN(in.parent.token, RequiredToken(d));
    TC_RETURN_IF_ERROR(ReadDpopProof(d, in.parent));
    if (d.Has(kFieldGrants)) {
      // The raw value, as for roles: objects or shorthand strings.
      auto it = d.raw().find(kFieldGrants);
      in.grants = it != d.raw().end() ? *it : nlohmann::json();
    }
    if (d.Has(kFieldTtl)) {
      TC_ASSIGN_OR_RETURN(in.ttl, d.GetInt(kFieldTtl));
    }
    if (d.Has(kFieldMaxUses)) {
      TC_ASSIGN_OR_RETURN(in.max_uses, d.GetInt(kFieldMaxUses));
    }
    if (d.Has(kFieldAudience)) {
      TC_ASSIGN_OR_RETURN(in.audience, d.GetStringSlice(kFieldAudience));
    }
    if (d.Has(kFieldDpopJkt)) {
      TC_ASSIGN_OR_RETURN(in.dpop_jkt, d.GetString(kFieldDpopJkt));
    }
    if (d.Has(kFieldInstance)) {
      TC_ASSIGN_OR_RETURN(in.instance, d.GetString(kFieldInstance));
    }
    return in;
  }

  std::shared_ptr<Services> s_;
  framework::SecretType secret_;
};

framework::FieldSchemaList DelegateFields() {
  framework::FieldSchemaList fields = HolderFields("The parent credential (JWT or opaque token).");
  framework::FieldSchemaList child = {
      {.name = kFieldGrants,
       .type = FieldType::kSlice,
       .description = "The child's grants: objects {\"resource\",\"actions\"} or \"ACTION[,ACTION] RESOURCE\", "
                      "each covered by the parent's (default: the parent's)."},
      {.name = kFieldTtl,
       .type = FieldType::kDurationSecond,
       .description = "The child's TTL, at most the parent's remaining life (default: all of it)."},
      {.name = kFieldMaxUses,
       .type = FieldType::kInt,
       .description = "The child's uses, at most the parent's remaining uses (default: them)."},
      {.name = kFieldAudience,
       .type = FieldType::kCommaStringSlice,
       .description = "The child's audience, a subset of the parent's (default: the parent's)."},
      {.name = kFieldDpopJkt,
       .type = FieldType::kString,
       .description = "Bind the child to this key (RFC 7638 thumbprint); required when the role binds."},
      {.name = kFieldInstance,
       .type = FieldType::kString,
       .description = "The child's instance (default: the parent's)."}};
  fields.insert(fields.end(), child.begin(), child.end());
  return fields;
}

}  // namespace

std::vector<framework::Path> DelegatePaths(std::shared_ptr<Services> s) {
  framework::SecretType secret = CredentialSecret(s);
  auto h = std::make_shared<DelegateHandlers>(std::move(s), secret);
  return {
      {.pattern = "delegate",
       .fields = DelegateFields(),
       .operations = {{Operation::kUpdate,
                       {Bind(h, &DelegateHandlers::Delegate), "Issue a narrower credential for a sub-task."}}},
       .help = {kDelegateSynopsis, kDelegateDescription}},
      {.pattern = "delegate/preview",
       .fields = DelegateFields(),
       .operations = {{Operation::kUpdate,
                       {Bind(h, &DelegateHandlers::Preview), "Preview the child delegate would issue."}}},
       .help = {kDelegatePreviewSynopsis, kDelegatePreviewDescription}},
  };
}

}  // namespace taskcred::engine
