// roles/ (list); roles/<name> (read, create, update, delete);
// roles/<name>/preview (update: dry run of creds).
#include <utility>

#include "engine/field_names.h"
#include "engine/path_util.h"
#include "engine/services.h"
#include "engine/storage_keys.h"
#include "framework/response.h"
#include "framework/storage_json.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kRoleNamePattern = "(?P<name>[a-zA-Z0-9._-]+)";

constexpr std::string_view kRolesListSynopsis = "List the roles (task templates).";
constexpr std::string_view kRoleSynopsis = "Manage a role: the template of one task's credentials.";
constexpr std::string_view kRoleDescription = R"(
A role is a task template. Reading creds/<name> instantiates it for one run:
the grants are rendered with the parameter values and built-in placeholders
({{role}} {{task}} {{task_id}} {{instance}} {{identity.entity.id}}
{{identity.entity.name}} {{identity.entity.metadata.<key>}}
{{identity.entity.aliases.<mount accessor>.metadata.<key>}}) and the
credential is returned as a lease.

Writes merge: fields not given keep their values. Every invalid field is a 400
naming it, and nothing is written. grants take JSON objects
{"resource": "...", "actions": ["..."]} or the CLI shorthand
"ACTION[,ACTION] RESOURCE"; they are read back as objects. parameters map a
name to an anchored RE2 regex (^...$). renewable requires
credential_type=opaque. ttl and max_ttl may not exceed config verification_ttl.
)";
constexpr std::string_view kPreviewSynopsis = "Dry run: what creds/<name> would issue, issuing nothing.";
constexpr std::string_view kPreviewDescription = R"(
Renders the role with the parameter values given in the body (and an optional
instance) exactly as creds/<name> would, and returns the grants, the claims
(unsigned), the TTL, max TTL and audience. Nothing is signed or stored; the
task_id in the claims is a fresh id that no credential will carry.
)";

framework::FieldSchemaList RoleFields() {
  return {
      {.name = kFieldName,
       .type = FieldType::kString,
       .required = true,
       .description = "Name of the role ([a-zA-Z0-9._-]+)."},
      {.name = kFieldTask,
       .type = FieldType::kString,
       .description = "The task this role is for; goes into the credential. Required on create."},
      {.name = kFieldDescription, .type = FieldType::kString, .description = "For humans."},
      {.name = kFieldGrants,
       .type = FieldType::kSlice,
       .description =
           "What one run may do: objects {\"resource\",\"actions\"} or \"ACTION[,ACTION] RESOURCE\". "
           "Resources may hold {{placeholders}}. Required on create, at least one."},
      {.name = kFieldParameters,
       .type = FieldType::kKVPairs,
       .description = "Parameters callers supply at issuance: name -> anchored regex (^...$)."},
      {.name = kFieldTtl,
       .type = FieldType::kDurationSecond,
       .description = "Lease TTL of credentials (0 = mount default)."},
      {.name = kFieldMaxTtl,
       .type = FieldType::kDurationSecond,
       .description = "Hard ceiling of the lease (0 = mount max)."},
      {.name = kFieldRenewable,
       .type = FieldType::kBool,
       .description = "May the lease be renewed (opaque credentials only; never past max_ttl)."},
      {.name = kFieldMaxUses,
       .type = FieldType::kInt,
       .description = "Uses counted by introspect consume=true (0 = unlimited, 1 = single-use)."},
      {.name = kFieldAudience,
       .type = FieldType::kCommaStringSlice,
       .description = "aud of the credential (default: config default_audience)."},
      {.name = kFieldCredentialType,
       .type = FieldType::kString,
       .description = "jwt (signed, offline-verifiable) or opaque (random token, introspection only)."},
      {.name = kFieldBindEntity,
       .type = FieldType::kBool,
       .description = "sub is the caller's entity id (or accessor:<token accessor>); false: sub is "
                      "task:<task_id>."},
      {.name = kFieldBinding,
       .type = FieldType::kString,
       .description = "none (default) or dpop: credentials are bound to the key creds is given as dpop_jkt "
                      "(cnf.jkt) and are only active with a DPoP proof of it (RFC 9449)."},
      {.name = kFieldMaxDelegationDepth,
       .type = FieldType::kInt,
       .description = "How deep delegate may chain narrower sub-task credentials below one of this role "
                      "(0 = not delegable, the default; 2: a grandchild is the deepest; at most 8)."},
      {.name = kFieldMaxLiveTasks,
       .type = FieldType::kInt,
       .description = "Live tasks creds may have issued at once (0 = unlimited); beyond it creds answers 429."},
      {.name = kFieldUniqueInstance,
       .type = FieldType::kBool,
       .description = "At most one live task per creds/<role>/<instance>."},
      {.name = kFieldHeartbeatTtl,
       .type = FieldType::kDurationSecond,
       .description = "The holder must call heartbeat at least this often, or the task becomes inactive for "
                      "good (0 = off)."},
  };
}

class RoleHandlers {
 public:
  explicit RoleHandlers(std::shared_ptr<Services> s) : s_(std::move(s)) {}

  Result<bool> Exists(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(std::string name, d.GetString(kFieldName));
    if (!ValidateRoleName(name).ok()) return false;
    TC_ASSIGN_OR_RETURN(std::optional<RoleEntry> role, s_->roles.Get(*req.storage, name));
    return role.has_value();
  }

  HandlerResult List(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(std::vector<std::string> names,
                        framework::ListPageFromFields(*req.storage, kRolePrefix, d));
    return std::optional<logical::Response>(framework::ListResponse(names));
  }

  HandlerResult Read(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(std::string name, d.GetString(kFieldName));
    TC_RETURN_IF_ERROR(ValidateRoleName(name));
    TC_ASSIGN_OR_RETURN(std::optional<RoleEntry> role, s_->roles.Get(*req.storage, name));
    if (!role) return framework::NoResponse();
    TC_ASSIGN_OR_RETURN(ConfigEntry config, s_->config.Get(*req.storage));
    logical::Response resp;
    resp.data = role->ToJson();
    if (auto warning = LifetimeWarning(*role, config.verification_ttl)) resp.warnings.push_back(*warning);
    return std::optional<logical::Response>(std::move(resp));
  }

  HandlerResult Write(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(std::string name, d.GetString(kFieldName));
    TC_RETURN_IF_ERROR(ValidateRoleName(name));
    TC_ASSIGN_OR_RETURN(RoleUpdate update, UpdateFrom(d));
    // Merge, check against the config and write as one step (Services::settings_mu).
    std::lock_guard lock(s_->settings_mu);
    TC_ASSIGN_OR_RETURN(std::optional<RoleEntry> stored, s_->roles.Get(*req.storage, name));
    RoleEntry role = stored.value_or(RoleEntry{});
    TC_RETURN_IF_ERROR(ApplyRoleUpdate(update, role));
    TC_ASSIGN_OR_RETURN(ConfigEntry config, s_->config.Get(*req.storage));
    // A role stored past verification_ttl (a mount in that state from before)
    // may be written again as long as it does not get longer: a repair.
    const int64_t tolerated = stored ? std::max(stored->ttl, stored->max_ttl) : 0;
    TC_RETURN_IF_ERROR(ValidateRole(role, config.verification_ttl, tolerated));
    TC_RETURN_IF_ERROR(s_->roles.Put(*req.storage, name, role));
    auto warning = LifetimeWarning(role, config.verification_ttl);
    if (!warning) return framework::NoResponse();
    logical::Response resp;
    resp.warnings.push_back(*warning);
    return std::optional<logical::Response>(std::move(resp));
  }

  HandlerResult Delete(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(std::string name, d.GetString(kFieldName));
    TC_RETURN_IF_ERROR(ValidateRoleName(name));
    TC_RETURN_IF_ERROR(s_->roles.Delete(*req.storage, name));
    return framework::NoResponse();
  }

  HandlerResult Preview(Request& req, const FieldData& d) {
    IssueInput in;
    TC_ASSIGN_OR_RETURN(in.role_name, d.GetString(kFieldName));
    if (d.Has(kFieldInstance)) {
      TC_ASSIGN_OR_RETURN(std::string instance, d.GetString(kFieldInstance));
      in.instance = std::move(instance);
    }
    in.parameters = ParameterValues(req, {kFieldInstance, kFieldDpopJkt});
    TC_ASSIGN_OR_RETURN(in.dpop_jkt, DpopJktOf(req));
    in.entity_id = req.entity_id;
    in.client_token_accessor = req.client_token_accessor;
    TC_ASSIGN_OR_RETURN(Issued issued, s_->issuer.Prepare(*req.storage, *req.system_view, in));
    logical::Response resp;
    resp.data = issued.PreviewData();
    resp.warnings = issued.warnings;
    return std::optional<logical::Response>(std::move(resp));
  }

 private:
  static Result<RoleUpdate> UpdateFrom(const FieldData& d) {
    RoleUpdate u;
    auto set_string = [&](std::string_view f, std::optional<std::string>& out) -> Status {
      if (!d.Has(f)) return Status::Ok();
      TC_ASSIGN_OR_RETURN(out, d.GetString(f));
      return Status::Ok();
    };
    auto set_int = [&](std::string_view f, std::optional<int64_t>& out) -> Status {
      if (!d.Has(f)) return Status::Ok();
      TC_ASSIGN_OR_RETURN(out, d.GetInt(f));
      return Status::Ok();
    };
    auto set_bool = [&](std::string_view f, std::optional<bool>& out) -> Status {
      if (!d.Has(f)) return Status::Ok();
      TC_ASSIGN_OR_RETURN(out, d.GetBool(f));
      return Status::Ok();
    };
    TC_RETURN_IF_ERROR(set_string(kFieldTask, u.task));
    TC_RETURN_IF_ERROR(set_string(kFieldDescription, u.description));
    TC_RETURN_IF_ERROR(set_string(kFieldCredentialType, u.credential_type));
    TC_RETURN_IF_ERROR(set_string(kFieldBinding, u.binding));
    TC_RETURN_IF_ERROR(set_int(kFieldTtl, u.ttl));
    TC_RETURN_IF_ERROR(set_int(kFieldMaxTtl, u.max_ttl));
    TC_RETURN_IF_ERROR(set_int(kFieldMaxUses, u.max_uses));
    TC_RETURN_IF_ERROR(set_int(kFieldMaxDelegationDepth, u.max_delegation_depth));
    TC_RETURN_IF_ERROR(set_int(kFieldMaxLiveTasks, u.max_live_tasks));
    TC_RETURN_IF_ERROR(set_int(kFieldHeartbeatTtl, u.heartbeat_ttl));
    TC_RETURN_IF_ERROR(set_bool(kFieldUniqueInstance, u.unique_instance));
    TC_RETURN_IF_ERROR(set_bool(kFieldRenewable, u.renewable));
    TC_RETURN_IF_ERROR(set_bool(kFieldBindEntity, u.bind_entity));
    if (d.Has(kFieldGrants)) {
      // The raw value: ParseGrants understands objects, shorthand strings and
      // a JSON string holding an array.
      auto it = d.raw().find(kFieldGrants);
      u.grants = it != d.raw().end() ? *it : nlohmann::json();
    }
    if (d.Has(kFieldParameters)) {
      TC_ASSIGN_OR_RETURN(u.parameters, d.GetStringMap(kFieldParameters));
    }
    if (d.Has(kFieldAudience)) {
      TC_ASSIGN_OR_RETURN(u.audience, d.GetStringSlice(kFieldAudience));
    }
    return u;
  }

  std::shared_ptr<Services> s_;
};

}  // namespace

std::vector<framework::Path> RolePaths(std::shared_ptr<Services> s) {
  auto h = std::make_shared<RoleHandlers>(std::move(s));
  auto write = Bind(h, &RoleHandlers::Write);
  framework::FieldSchemaList preview_fields = {
      {.name = kFieldName, .type = FieldType::kString, .required = true, .description = "Name of the role."},
      {.name = kFieldInstance,
       .type = FieldType::kString,
       .description = "Simulates creds/<name>/<instance>: the value of {{instance}}."},
      {.name = kFieldDpopJkt,
       .type = FieldType::kString,
       .description = "As creds: the thumbprint of the key the credential would be bound to."}};
  return {
      {.pattern = "roles" + framework::OptionalTrailingSlash(),
       .fields = {framework::ListAfterField(), framework::ListLimitField()},
       .operations = {{Operation::kList, {Bind(h, &RoleHandlers::List), "List role names."}}},
       .help = {kRolesListSynopsis, kRoleDescription}},
      {.pattern = "roles/" + std::string(kRoleNamePattern),
       .fields = RoleFields(),
       .existence_check = BindExists(h, &RoleHandlers::Exists),
       .operations = {{Operation::kRead, {Bind(h, &RoleHandlers::Read), "Read a role."}},
                      {Operation::kCreate, {write, "Create a role."}},
                      {Operation::kUpdate, {write, "Update a role (fields not given keep their values)."}},
                      {Operation::kDelete, {Bind(h, &RoleHandlers::Delete), "Delete a role."}}},
       .help = {kRoleSynopsis, kRoleDescription}},
      {.pattern = "roles/" + std::string(kRoleNamePattern) + "/preview",
       .fields = std::move(preview_fields),
       .operations = {{Operation::kUpdate,
                       {Bind(h, &RoleHandlers::Preview),
                        "Preview the credential creds/<name> would issue."}}},
       .help = {kPreviewSynopsis, kPreviewDescription},
       .takes_arbitrary_input = true},
  };
}

}  // namespace taskcred::engine
