// heartbeat (update): the holder shows its task is still alive.
#include <utility>

#include "engine/field_names.h"
#include "engine/path_util.h"
#include "engine/services.h"
#include "framework/response.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kHeartbeatSynopsis = "Show that the credential's task is still alive.";
constexpr std::string_view kHeartbeatDescription = R"(
For credentials of a role with heartbeat_ttl: the holder calls heartbeat
with its credential as token (and dpop_proof, method and url when it is
bound) at least every heartbeat_ttl; the clock starts at issuance. A task
that misses one is inactive from then on, for good: a late heartbeat is a
400 and does not revive it, introspect answers inactive at once, the status
list shows it within a minute (Vault's periodic call), and a renewable lease
is renewed only while heartbeats are on time. Delegated tasks have no
heartbeat of their own: they live while their parent does.

Answers task_id, last_heartbeat and heartbeat_due (RFC 3339).
)";

class HeartbeatHandlers {
 public:
  explicit HeartbeatHandlers(std::shared_ptr<Services> s) : s_(std::move(s)) {}

  HandlerResult Heartbeat(Request& req, const FieldData& d) {
    IntrospectInput in;
    TC_ASSIGN_OR_RETURN(in.token, RequiredToken(d));
    TC_RETURN_IF_ERROR(ReadDpopProof(d, in));
    TC_ASSIGN_OR_RETURN(TaskStore::RecordPtr record, s_->introspector.Authenticate(*req.storage, in));
    if (!record) {
      return Status::InvalidArgument(
          "token: is not an active credential of this mount (a missed heartbeat ends a task for good)");
    }
    if (record->heartbeat_ttl <= 0) {
      return Status::InvalidArgument("token: this credential's task has no heartbeat (its role's heartbeat_ttl "
                                     "was 0 when it was issued, or it was delegated)");
    }
    int64_t now = UnixSeconds(s_->clock());
    TaskRecord beat;
    TC_RETURN_IF_ERROR(s_->tasks.Mutate(*req.storage, record->task_id, [&](std::optional<TaskRecord>& r) -> Result<bool> {
      if (!r || !r->IsActive(now)) return false;
      r->heartbeat_at = now;
      beat = *r;
      return true;
    }));
    if (beat.task_id.empty()) {
      return Status::InvalidArgument("token: the task ended before its heartbeat was recorded");
    }
    return framework::RespondWith({{kFieldTaskId, beat.task_id},
                                   {"last_heartbeat", Rfc3339(beat.heartbeat_at)},
                                   {"heartbeat_due", Rfc3339(beat.heartbeat_at + beat.heartbeat_ttl)}});
  }

 private:
  std::shared_ptr<Services> s_;
};

}  // namespace

std::vector<framework::Path> HeartbeatPaths(std::shared_ptr<Services> s) {
  auto h = std::make_shared<HeartbeatHandlers>(std::move(s));
  return {{.pattern = "heartbeat",
           .fields = HolderFields("The credential whose task is alive (JWT or opaque token)."),
           .operations = {{Operation::kUpdate, {Bind(h, &HeartbeatHandlers::Heartbeat), "Record a heartbeat."}}},
           .help = {kHeartbeatSynopsis, kHeartbeatDescription}}};
}

}  // namespace taskcred::engine
