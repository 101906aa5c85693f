// The storage layout of task records, as tests pin it (written out here, not
// taken from the engine, so a change of layout fails the tests that read
// records from storage; docs/engine.md, "Storage layout").
#pragma once

#include <string>

namespace taskcred::test {

// tasks/<hour>/<task_id> for the version-8 ids the engine mints (the hour is
// the id's first 8 hex digits); tasks/<task_id> for a legacy version-4 id.
inline std::string TaskRecordKey(const std::string& task_id) {
  if (task_id.size() == 36 && task_id[14] == '8') return "tasks/" + task_id.substr(0, 8) + "/" + task_id;
  return "tasks/" + task_id;
}

}  // namespace taskcred::test
