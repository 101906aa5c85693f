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
tasks/ lists the task ids of live runs (active credentials), with key_info
holding role, task, expires_at, uses_remaining and active for each;
include_ended=true also lists runs that ended but whose records tidy has not
removed yet (one hour after their expiry). after/limit page over all stored
ids before that filter. tasks/<task_id> shows one run:
role, task, instance, grants, audience, sub, issued_at, expires_at, max_uses,
uses, uses_remaining (null when unlimited), revoked, released, renewals,
confirmed and whether it is active now. confirmed turns true once Vault
renews or revokes the lease or the holder consumes a use or releases the run;
a run that expires unconfirmed never reached anyone (its issuance's answer
was lost), and tidy reports it. The credential and its hash are never shown.
To end a run, revoke its lease.
)";

class TaskHandlers {
 public:
  explicit TaskHandlers(std::shared_ptr<Services> s) : s_(std::move(s)) {}

  // Live runs (or every stored run with include_ended), with key_info.
  HandlerResult List(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(framework::ListPaging paging, framework::ListPagingFromFields(d));
    TC_ASSIGN_OR_RETURN(std::vector<std::string> ids, s_->tasks.ListPage(*req.storage, paging.after, paging.limit));
    TC_ASSIGN_OR_RETURN(bool include_ended, d.GetBool(kFieldIncludeEnded));
    int64_t now = UnixSeconds(s_->clock());
    std::vector<std::string> keys;
    nlohmann::json info = nlohmann::json::object();
    for (const std::string& id : ids) {
      TC_ASSIGN_OR_RETURN(std::optional<TaskRecord> record, s_->tasks.Get(*req.storage, id));
      if (!record || (!include_ended && !record->IsActive(now))) continue;
      nlohmann::json view = record->ToOperatorJson(now);
      info[id] = {{"role", view["role"]},
                  {"task", view["task"]},
                  {"expires_at", view["expires_at"]},
                  {"uses_remaining", view["uses_remaining"]},
                  {"active", view["active"]}};
      keys.push_back(id);
    }
    return std::optional<logical::Response>(framework::ListResponseWithInfo(keys, info));
  }

  HandlerResult Read(Request& req, const FieldData& d) {
    TC_ASSIGN_OR_RETURN(std::string id, d.GetString(kFieldTaskId));
    TC_ASSIGN_OR_RETURN(std::optional<TaskRecord> record, s_->tasks.Get(*req.storage, id));
    if (!record) return framework::NoResponse();
    nlohmann::json view = record->ToOperatorJson(UnixSeconds(s_->clock()));
    if (record->delegable) {
      TC_ASSIGN_OR_RETURN(std::vector<TaskRecord::Child> children, s_->tasks.Children(*req.storage, id));
      for (const TaskRecord::Child& child : children) view["children"].push_back(child.task_id);
    }
    return framework::RespondWith(std::move(view));
  }

 private:
  std::shared_ptr<Services> s_;
};

}  // namespace

std::vector<framework::Path> TaskPaths(std::shared_ptr<Services> s) {
  auto h = std::make_shared<TaskHandlers>(std::move(s));
  return {
      {.pattern = "tasks" + framework::OptionalTrailingSlash(),
       .fields = {framework::ListAfterField(),
                  framework::ListLimitField(),
                  {.name = kFieldIncludeEnded,
                   .type = FieldType::kBool,
                   .description = "Also list runs that ended (expired, revoked, released, spent) but are not "
                                  "tidied yet."}},
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
