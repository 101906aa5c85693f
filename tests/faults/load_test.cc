// 1,000 concurrent requests (issuance and introspection, JWT and opaque) from
// 64 threads against one plugin process: every one answered correctly, no
// RESOURCE_EXHAUSTED, no 500, every issued credential recorded and active.
#include <atomic>
#include <set>

#include "fault_fixture.h"

namespace taskcred::test {
namespace {

using nlohmann::json;

class LoadTest : public FaultTest {};

TEST_F(LoadTest, ThousandConcurrentRequests) {
  PluginHost* host = StartHost();
  Mount* m = SetupMount(host);
  ASSERT_NE(m, nullptr);
  Ok(*m, "create", "roles/backup", JwtRole());
  Ok(*m, "create", "roles/op", OpaqueRole());
  const std::vector<std::string> seeds = {Issue(*m, "creds/backup", {{"snapshot_id", "1"}}).data["credential"],
                                          Issue(*m, "creds/op").data["credential"]};
  const size_t tasks_before = KeysUnder("tasks/").size();

  constexpr int kRequests = 1000;
  constexpr int kThreads = 64;
  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::string> issued_tokens;
  std::set<std::string> issued_ids;
  auto fail = [&](int i, const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    failures.push_back("request " + std::to_string(i) + ": " + what);
  };
  auto worker = [&] {
    for (int i = next++; i < kRequests; i = next++) {
      const int kind = i % 4;  // 0 issue jwt, 1 issue opaque, 2/3 introspect a seed
      const std::chrono::seconds deadline(30);
      RequestSpec spec =
          kind == 0   ? Spec("update", "creds/backup", {{"snapshot_id", std::to_string(i)}}, deadline)
          : kind == 1 ? Spec("read", "creds/op", nullptr, deadline)
                      : Spec("update", "introspect",
                             {{"token", seeds[kind - 2]}, {"resource", "kv://db1/backup-user"}, {"action", "read"}},
                             deadline);
      RequestResult r = m->HandleRequest(spec);
      RecordCredential(r);
      if (!r.status.ok()) {
        fail(i, "rpc " + std::to_string(r.status.error_code()) + " " + r.status.error_message());
        continue;
      }
      if (r.http_status != 200) {
        fail(i, "HTTP " + std::to_string(r.http_status) + " " + r.error);
        continue;
      }
      if (kind < 2) {
        if (!r.data.is_object() || !r.data.contains("credential") || !r.data.contains("task_id")) {
          fail(i, "no credential: " + r.data.dump());
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        issued_tokens.push_back(r.data["credential"]);
        issued_ids.insert(r.data["task_id"].get<std::string>());
      } else if (!(r.data.is_object() && r.data.value("active", false) &&
                   r.data.value("allowed", false) == (kind == 2))) {
        // The JWT seed's role grants read kv://db1/backup-user; the opaque one does not.
        fail(i, "wrong introspection: " + r.data.dump());
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  for (size_t i = 0; i < failures.size() && i < 10; ++i) ADD_FAILURE() << failures[i];
  EXPECT_EQ(failures.size(), 0u);
  EXPECT_EQ(issued_tokens.size(), static_cast<size_t>(kRequests / 2));
  EXPECT_EQ(issued_ids.size(), issued_tokens.size()) << "duplicate task ids";
  EXPECT_EQ(KeysUnder("tasks/").size(), tasks_before + issued_ids.size()) << "a credential without a record";
  // A sample of what was issued under load introspects active.
  for (size_t i = 0; i < issued_tokens.size(); i += 25) {
    EXPECT_EQ(Introspect(*m, issued_tokens[i]).value("active", false), true) << i;
  }
  EXPECT_TRUE(host->process().Running());
}

}  // namespace
}  // namespace taskcred::test
