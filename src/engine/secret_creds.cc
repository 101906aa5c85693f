// Secret type taskcred_credential: renew (opaque + renewable only) and revoke.
#include <algorithm>
#include <utility>

#include "engine/field_names.h"
#include "engine/path_util.h"
#include "engine/services.h"
#include "framework/response.h"

namespace taskcred::engine {
namespace {

Result<std::string> TaskIdOf(const Request& req) {
  if (!req.secret) return Status::InvalidArgument("request carries no secret");
  const nlohmann::json& internal = req.secret->internal_data;
  auto it = internal.find(kFieldTaskId);
  if (it == internal.end() || !it->is_string()) {
    return Status::InvalidArgument("secret internal data has no task_id");
  }
  return it->get<std::string>();
}

class SecretHandlers {
 public:
  explicit SecretHandlers(std::shared_ptr<Services> s) : s_(std::move(s)) {}

  // Marks the task revoked. Idempotent; an unknown or tidied record is success.
  HandlerResult Revoke(Request& req, const FieldData&) {
    TC_ASSIGN_OR_RETURN(std::string task_id, TaskIdOf(req));
    if (!IsValidTaskId(task_id)) return framework::NoResponse();
    bool changed = false;
    TC_RETURN_IF_ERROR(
        s_->tasks.Mutate(*req.storage, task_id, [&](std::optional<TaskRecord>& r) -> Result<bool> {
          if (!r || r->revoked) return false;
          r->revoked = true;
          changed = true;
          return true;
        }));
    if (changed) s_->logger.Info("credential revoked", {{"task_id", task_id}});
    return framework::NoResponse();
  }

  // Extends an opaque, renewable credential; never past its max_ttl.
  HandlerResult Renew(Request& req, const FieldData&) {
    TC_ASSIGN_OR_RETURN(std::string task_id, TaskIdOf(req));
    int64_t now = UnixSeconds(s_->clock());
    int64_t increment =
        std::chrono::duration_cast<std::chrono::seconds>(req.secret->lease_options.increment).count();
    TaskRecord updated;
    TC_RETURN_IF_ERROR(
        s_->tasks.Mutate(*req.storage, task_id, [&](std::optional<TaskRecord>& r) -> Result<bool> {
          if (!r) return Status::InvalidArgument("task " + task_id + " no longer exists");
          if (!r->renewable || r->credential_type != kCredentialTypeOpaque) {
            return Status::InvalidArgument("this credential is not renewable");
          }
          if (r->Ended()) return Status::InvalidArgument("this credential is no longer active");
          if (r->HeartbeatMissed(now)) {
            return Status::InvalidArgument("heartbeat missed: the task is inactive for good and cannot be renewed");
          }
          if (now >= r->max_ttl_at) return Status::InvalidArgument("past the max_ttl, cannot renew");
          int64_t want = increment > 0 ? increment : r->ttl;
          r->expires_at = std::min(now + want, r->max_ttl_at);
          ++r->renewals;
          updated = *r;
          return true;
        }));
    logical::Response resp;
    // Vault hands renew data to sys/leases/renew callers: never echo the credential.
    resp.data = {{kFieldTaskId, updated.task_id}, {kFieldExpiresAt, Rfc3339(updated.expires_at)}};
    resp.secret = *req.secret;
    resp.secret->lease_options.ttl = std::chrono::seconds(updated.expires_at - now);
    resp.secret->lease_options.max_ttl = std::chrono::seconds(updated.max_ttl_at - updated.issued_at);
    resp.secret->lease_options.renewable = true;
    return std::optional<logical::Response>(std::move(resp));
  }

 private:
  std::shared_ptr<Services> s_;
};

}  // namespace

framework::SecretType CredentialSecret(std::shared_ptr<Services> s) {
  auto h = std::make_shared<SecretHandlers>(std::move(s));
  return {
      .type = kSecretTypeCredential,
      .renew = Bind(h, &SecretHandlers::Renew),
      .revoke = Bind(h, &SecretHandlers::Revoke),
  };
}

}  // namespace taskcred::engine
