// tasks/ (list); tasks/<task_id> (read): operators' view of task runs.
#include <utility>

#include "engine/field_names.h"
#include "engine/path_util.h"
#include "engine/services.h"
#include "engine/storage_keys.h"
#include "framework/response.h"
#include "framework/storage_json.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kTasksSynopsis = "List and inspect task runs (issued credentials).";
constexpr std::string_view kTasksDescription = R"(
tasks/ lists the task ids of stored task records (records are kept until tidy
removes them, one hour after their expiry). tasks/<task_id> shows one run:
role, task, instance, grants, audience, sub, issued_at, expires_at, max_uses,
uses, uses_remaining (null when unlimited), revoked, released and whether it
is active now. The credential and its hash are never shown. To end a run,
revoke its lease.
)";

class TaskHandlers {
 public:
  explicit TaskHandlers(std::shared_ptr<Services> s) : s_(std::move(s)) {}

  HandlerResult List(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                        framework::ListPageFromFields(*req.storage, kTaskPrefix, d));
    return std::optional<logical::Response>(framework::ListResponse(ids));
  }

  HandlerResult Read(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(std::string id, d.GetString(kFieldTaskId));
    TC_ASSIGN_OR_RETURN(std::optional<TaskRecord> record, s_->tasks.Get(*req.storage, id));
    if (!record) return framework::NoResponse();
    return framework::RespondWith(record->ToOperatorJson(UnixSeconds(s_->clock())));
  }

 private:
  std::shared_ptr<Services> s_;
};

}  // namespace

std::vector<framework::Path> TaskPaths(std::shared_ptr<Services> s) {
  auto h = std::make_shared<TaskHandlers>(std::move(s));
  return {
      {.pattern = "tasks" + framework::OptionalTrailingSlash(),
       .fields = {framework::ListAfterField(), framework::ListLimitField()},
       .operations = {{Operation::kList, {Bind(h, &TaskHandlers::List), "List task ids."}}},
       .help = {kTasksSynopsis, kTasksDescription}},
      {.pattern = "tasks/(?P<task_id>[0-9a-f-]+)",
       .fields = {{.name = kFieldTaskId,
                   .type = FieldType::kString,
                   .required = true,
                   .description = "The task id (the credential's jti)."}},
       .operations = {{Operation::kRead, {Bind(h, &TaskHandlers::Read), "Read one task run."}}},
       .help = {kTasksSynopsis, kTasksDescription}},
  };
}

}  // namespace taskcred::engine
