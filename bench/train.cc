#include "train.h"

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "bench_util.h"

namespace taskcred::bench {

namespace {

using taskcred::test::LeaseRequest;

bool Active(const RequestResult& r, const char* what, bool want) {
  if (!Ok(r, what)) return false;
  if (r.data.value("active", !want) == want) return true;
  std::fprintf(stderr, "%s: active is not %s\n", what, want ? "true" : "false");
  return false;
}

// One request mix, chosen by `i`: every kind runs in every stretch of eight.
bool Mix(Mount& m, const std::vector<std::string>& pool, int caller, int64_t i) {
  const std::string& pooled = pool[static_cast<size_t>(caller * 7 + i) % pool.size()];
  const json checked = {{"resource", "s3://backups/db1/4711"}, {"action", "write"}};
  switch (i % 8) {
    case 0: {  // JWT issuance, then introspection plain and checked
      RequestResult c = Call(m, "update", "creds/jwt", json::object());
      if (!Ok(c, "creds jwt")) return false;
      json d = checked;
      d["token"] = c.data["credential"];
      return Active(Call(m, "update", "introspect", {{"token", c.data["credential"]}}), "introspect", true) &&
             Active(Call(m, "update", "introspect", d), "introspect checked", true);
    }
    case 1: {  // opaque issuance, then a consuming introspection
      RequestResult c = Call(m, "update", "creds/opaque", json::object());
      if (!Ok(c, "creds opaque")) return false;
      return Active(Call(m, "update", "introspect", {{"token", c.data["credential"]}, {"consume", true}}),
                    "introspect consume", true);
    }
    case 2: {  // what Vault does with a lease: renew it, then revoke it
      RequestResult c = Call(m, "update", "creds/renewable", json::object());
      if (!Ok(c, "creds renewable")) return false;
      if (!Ok(m.HandleRequest(LeaseRequest("renew", c)), "renew")) return false;
      if (!Ok(m.HandleRequest(LeaseRequest("revoke", c)), "revoke")) return false;
      return Active(Call(m, "update", "introspect", {{"token", c.data["credential"]}}), "introspect revoked", false);
    }
    case 3: {  // the holder releases its task
      RequestResult c = Call(m, "update", "creds/jwt", json::object());
      if (!Ok(c, "creds jwt")) return false;
      if (!Ok(Call(m, "update", "release", {{"token", c.data["credential"]}}), "release")) return false;
      return Active(Call(m, "update", "introspect", {{"token", c.data["credential"]}}), "introspect released", false);
    }
    case 4:  // the hot path: a credential introspected again and again
    case 5: {
      json d = checked;
      d["token"] = pooled;
      if (i % 8 == 5) d["consume"] = true;
      return Active(Call(m, "update", "introspect", d), "introspect pooled", true);
    }
    case 6:  // what operators and policy tooling read
      return Ok(Call(m, "read", "config", nullptr), "config") && Ok(Call(m, "read", "roles/jwt", nullptr), "role") &&
             Ok(Call(m, "read", "jwks", nullptr), "jwks");
    default: {
      RequestResult c = Call(m, "update", "creds/jwt", json::object());
      if (!Ok(c, "creds jwt")) return false;
      if (!Ok(Call(m, "read", "tasks/" + c.data.value("task_id", std::string()), nullptr), "task")) return false;
      return i % 64 != 7 || Ok(Call(m, "list", "tasks/", nullptr), "tasks list");
    }
  }
}

}  // namespace

int RunTraining(const TrainOptions& options) {
  auto host = StartHost(options.plugin);
  for (const char* alg : {"ES256", "EdDSA"}) {
    Mount& m = TaskcredMount(*host, alg);
    MustCall(m, "create", "roles/renewable",
             {{"task", "train-task"}, {"grants", json::array({"read kv://db1/backup-user"})}, {"ttl", "1h"},
              {"max_ttl", "2h"}, {"credential_type", "opaque"}, {"renewable", true}});
    std::vector<std::string> pool;
    for (int i = 0; i < 32; ++i) {
      pool.push_back(MustCall(m, "update", "creds/jwt", json::object()).data["credential"].get<std::string>());
    }
    // Measure() ends the process on a failed request.
    Stats s = Measure(8, options.requests,
                      [&m, &pool](int caller, int64_t i) { return Mix(m, pool, caller, i); });
    std::printf("train %s: %lld request mixes in %.1f s\n", alg, static_cast<long long>(s.ops), s.seconds);
  }
  // A profile written periodically (BOLT's runtime in a static executable
  // writes every second) then covers the last requests too.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  return 0;
}

}  // namespace taskcred::bench
