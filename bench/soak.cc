#include "soak.h"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "harness/task_layout.h"

namespace taskcred::bench {
namespace {

using taskcred::test::FakeStorage;

// What the callers learned about one issued task. Written by the one caller
// that issued it, read by the final check after every caller has stopped.
struct Task {
  std::string id, token, role;
  int64_t max_uses = 0;
  int64_t actives = 0;         // consume=true answers that said active
  bool revoke_acked = false;   // a revoke answered 204
  bool release_acked = false;  // a release answered 204
};

// The plugin process currently serving, replaced by the killer. Old hosts
// stay alive (their processes killed) so a caller holding one of their
// mounts only sees failed calls.
class Current {
 public:
  void Set(std::unique_ptr<PluginHost> host, Mount* mount) {
    std::lock_guard lock(mu_);
    mount_ = mount;
    hosts_.push_back(std::move(host));
  }
  Mount* mount() {
    std::lock_guard lock(mu_);
    return mount_;
  }
  PluginHost* host() {
    std::lock_guard lock(mu_);
    return hosts_.back().get();
  }
  // Exit signals of every process killed so far (the last one still runs).
  std::vector<std::string> Crashes() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (size_t i = 0; i + 1 < hosts_.size(); ++i) {
      auto exit = hosts_[i]->WaitExit(std::chrono::seconds(5));
      if (!exit || exit->signal != SIGKILL) {
        out.push_back("plugin process " + std::to_string(i) + " did not die of our SIGKILL: " +
                      (exit ? exit->ToString() : std::string("still running")));
      }
    }
    return out;
  }

 private:
  std::mutex mu_;
  Mount* mount_ = nullptr;
  std::vector<std::unique_ptr<PluginHost>> hosts_;
};

class Soak {
 public:
  explicit Soak(const SoakOptions& o) : o_(o) {}

  int Run() {
    storage_ = std::make_shared<FakeStorage>();
    Restart();
    Mount& m = *current_.mount();
    MustCall(m, "update", "config", {{"issuer", kIssuer}, {"default_audience", "svc"}});
    MustCall(m, "create", "roles/soak-jwt",
             {{"task", "soak"}, {"grants", json::array({"read kv://soak/x"})}, {"ttl", "1h"}, {"max_uses", 3}});
    MustCall(m, "create", "roles/soak-op",
             {{"task", "soak"},
              {"grants", json::array({"read kv://soak/x"})},
              {"ttl", "1h"},
              {"max_uses", 2},
              {"credential_type", "opaque"}});

    std::printf("soak: %d callers issue, introspect, consume, release and revoke; the plugin is SIGKILLed and "
                "restarted %d times, every %d ms\n",
                o_.callers, o_.restarts, o_.interval_ms);
    std::fflush(stdout);
    std::vector<std::thread> callers;
    std::vector<std::vector<Task>> tasks(static_cast<size_t>(o_.callers));
    for (int c = 0; c < o_.callers; ++c) callers.emplace_back([this, c, &tasks] { Caller(c, tasks[c]); });
    for (int r = 0; r < o_.restarts; ++r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(o_.interval_ms));
      current_.host()->Kill();
      Restart();
      std::printf("  restart %2d: %lld issued, %lld failed calls so far\n", r + 1,
                  static_cast<long long>(issued_.load()), static_cast<long long>(failed_.load()));
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(o_.interval_ms));
    stop_ = true;
    for (auto& t : callers) t.join();

    for (const std::string& c : current_.Crashes()) Violation(c);
    size_t checked = 0;
    for (const auto& list : tasks) {
      for (const Task& t : list) {
        Check(t);
        ++checked;
      }
    }
    std::printf("soak: %d restarts, %zu tasks issued and checked, %lld consumes (%lld active), %lld revokes, "
                "%lld releases, %lld calls failed while the plugin was down; %zu invariant violations\n",
                o_.restarts, checked, static_cast<long long>(consumes_.load()),
                static_cast<long long>(consumed_active_.load()), static_cast<long long>(revokes_.load()),
                static_cast<long long>(releases_.load()), static_cast<long long>(failed_.load()),
                violations_.size());
    for (size_t i = 0; i < violations_.size() && i < 20; ++i) std::printf("  VIOLATION: %s\n", violations_[i].c_str());
    return violations_.empty() && checked > 0 ? 0 : 1;
  }

 private:
  void Restart() {
    auto host = StartHost(o_.plugin);
    taskcred::test::SetupOptions so;
    so.storage = storage_;
    Mount* m = &NewMount(*host, so);
    current_.Set(std::move(host), m);
  }

  void Violation(const std::string& what) {
    std::lock_guard lock(mu_);
    violations_.push_back(what);
  }

  // One request on whatever plugin serves now; nullopt when it failed
  // (transport error or 5xx: the plugin was killed under it).
  std::optional<RequestResult> Try(const RequestSpec& spec) {
    RequestResult r = current_.mount()->HandleRequest(spec);
    if (!r.status.ok() || r.http_status >= 500) {
      ++failed_;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the plugin is restarting
      return std::nullopt;
    }
    return r;
  }
  std::optional<RequestResult> Try(const std::string& op, const std::string& path, json data) {
    RequestSpec spec;
    spec.operation = op;
    spec.path = path;
    spec.data = std::move(data);
    spec.deadline = std::chrono::seconds(5);
    return Try(spec);
  }

  // introspect; nullopt when the call failed.
  std::optional<bool> Active(const Task& t, bool consume) {
    json body = {{"token", t.token}};
    if (consume) body["consume"] = true;
    auto r = Try("update", "introspect", body);
    if (!r) return std::nullopt;
    if (r->http_status != 200) {
      Violation("introspect of " + t.id + " answered " + std::to_string(r->http_status) + ": " + r->error);
      return std::nullopt;
    }
    return r->data.value("active", false);
  }

  void Caller(int c, std::vector<Task>& mine) {
    std::mt19937 rng(static_cast<unsigned>(c) * 7919u + 17u);
    while (!stop_) {
      const bool jwt = rng() % 2 == 0;
      auto issued = Try("read", jwt ? "creds/soak-jwt" : "creds/soak-op", nullptr);
      if (!issued) continue;
      if (issued->http_status != 200) {
        Violation("issuance answered " + std::to_string(issued->http_status) + ": " + issued->error);
        continue;
      }
      ++issued_;
      Task t;
      t.id = issued->data.value("task_id", "");
      t.token = issued->data.value("credential", "");
      t.role = issued->data.value("role", "");
      t.max_uses = issued->data.value("max_uses", int64_t{0});
      // Uses: one more consume than allowed; every answer is checked.
      for (int64_t i = 0; i <= t.max_uses && !stop_; ++i) {
        auto active = Active(t, /*consume=*/true);
        if (!active) continue;
        ++consumes_;
        if (*active) {
          ++consumed_active_;
          if (++t.actives > t.max_uses) Violation(t.id + ": more active consumes than max_uses");
        }
      }
      // Then end it one way or another (or leave it live).
      switch (rng() % 3) {
        case 0: {
          auto r = Try(LeaseRequest("revoke", *issued));
          if (r && r->http_status == 204) {
            t.revoke_acked = true;
            ++revokes_;
          }
          break;
        }
        case 1: {
          auto r = Try("update", "release", {{"token", t.token}});
          if (r && r->http_status == 204) {
            t.release_acked = true;
            ++releases_;
          }
          break;
        }
        default: break;
      }
      if (t.revoke_acked || t.release_acked || t.actives >= t.max_uses) {
        auto active = Active(t, /*consume=*/false);
        if (active && *active) Violation(t.id + ": active after it was revoked, released or used up");
      }
      mine.push_back(std::move(t));
    }
  }

  // After the run, on the last plugin: nothing lost, nothing resurrected.
  void Check(const Task& t) {
    auto stored = storage_->Get(taskcred::test::TaskRecordKey(t.id));
    if (!stored) {
      Violation("lost task " + t.id + " (issued, but its record is gone)");
      return;
    }
    json record = json::parse(stored->value, nullptr, false);
    int64_t uses = record.value("uses", int64_t{-1});
    if (uses > t.max_uses) Violation(t.id + ": " + std::to_string(uses) + " uses recorded, max_uses " +
                                     std::to_string(t.max_uses));
    if (uses < t.actives) Violation(t.id + ": fewer uses recorded than active consumes answered");
    if (t.revoke_acked && !record.value("revoked", false)) Violation(t.id + ": acknowledged revoke not recorded");
    if (t.release_acked && !record.value("released", false)) Violation(t.id + ": acknowledged release not recorded");
    std::optional<bool> active;
    for (int attempt = 0; attempt < 3 && !active; ++attempt) active = Active(t, /*consume=*/false);
    if (!active) {
      Violation(t.id + ": final introspect failed");
      return;
    }
    const bool ended = t.revoke_acked || t.release_acked || t.actives >= t.max_uses;
    if (ended && *active) Violation(t.id + ": active at the end though revoked, released or used up");
  }

  const SoakOptions o_;
  std::shared_ptr<FakeStorage> storage_;
  Current current_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> issued_{0}, failed_{0}, consumes_{0}, consumed_active_{0}, revokes_{0}, releases_{0};
  std::mutex mu_;
  std::vector<std::string> violations_;
};

}  // namespace

int RunSoak(const SoakOptions& options) { return Soak(options).Run(); }

}  // namespace taskcred::bench
