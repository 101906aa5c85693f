// tidy (update): delete task records past expiry + safety margin.
#include <utility>

#include "engine/path_util.h"
#include "engine/services.h"
#include "framework/response.h"

namespace taskcred::engine {
namespace {

constexpr std::string_view kTidySynopsis = "Remove records of finished task runs.";
constexpr std::string_view kTidyDescription = R"(
Deletes task records whose expiry is more than one hour (the safety margin) in
the past, whether they expired, were revoked or released, and prunes retired
signing keys past verification_ttl and the status lists of hours past with
them. Visits only the storage hours (and legacy
expiry-index buckets) that are entirely past, so its cost follows what it
removes. The periodic hook does the
same about once a minute. Returns the counts; unconfirmed_deleted counts runs
that ended without Vault ever revoking or renewing their lease and without a
use or release: their issuance's answer never arrived (each is logged).
)";

}  // namespace

std::vector<framework::Path> TidyPaths(std::shared_ptr<Services> s) {
  auto tidy = [s](Request& req, const FieldData&) -> HandlerResult {
    int64_t now = UnixSeconds(s->clock());
    TC_ASSIGN_OR_RETURN(TidyCounts counts, s->TidyTasks(*req.storage, now));
    TC_ASSIGN_OR_RETURN(ConfigEntry config, s->config.Get(*req.storage));
    ConfigEntry no_rotation = config;
    no_rotation.rotation_period = 0;  // tidy prunes keys but never rotates
    TC_ASSIGN_OR_RETURN(RingChange change, s->keys.Maintain(*req.storage, no_rotation));
    s->logger.Info("tidy", {{"tasks_deleted", counts.tasks_deleted},
                            {"index_entries_deleted", counts.index_entries_deleted},
                            {"status_lists_deleted", counts.status_lists_deleted},
                            {"keys_pruned", change.pruned_kids.size()}});
    return framework::RespondWith({{"tasks_deleted", counts.tasks_deleted},
                                   {"unconfirmed_deleted", counts.unconfirmed.size()},
                                   {"index_entries_deleted", counts.index_entries_deleted},
                                   {"buckets_scanned", counts.buckets_scanned},
                                   {"status_lists_deleted", counts.status_lists_deleted},
                                   {"keys_pruned", change.pruned_kids.size()}});
  };
  return {{.pattern = "tidy",
           .operations = {{Operation::kUpdate, {tidy, "Remove records of finished task runs."}}},
           .help = {kTidySynopsis, kTidyDescription}}};
}

}  // namespace taskcred::engine
