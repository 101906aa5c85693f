#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>

#include "bench_util.h"
#include "cost.h"
#include "dpop/proof_maker.h"

namespace taskcred::bench {

namespace {

// Issue 14: delegate (target: at most 20 % above "creds jwt ES256") and the
// introspection of a depth-3 descendant (target: at most 1.2x its root's,
// "depth 0", measured beside it). The parents are a pool of 1024 credentials taken in turn, so
// each gets a handful of children, as a CI run's steps would.
void DelegationRows(const Options& opt, Mount& m,
                    const std::function<void(const std::string&, Mount&, const Op&)>& row) {
  if (std::string("delegate jwt ES256 introspect jwt ES256 depth 0 introspect jwt ES256 depth 3").find(opt.cost_rows) == std::string::npos) return;
  json role = {{"task", "bench-task"},
               {"grants", json::array({"read kv://db1/backup-user", "write s3://backups/db1/*"})},
               {"ttl", "1h"},
               {"max_delegation_depth", 3}};
  MustCall(m, "create", "roles/deleg", role);
  auto parents = std::make_shared<std::vector<std::string>>();
  for (int i = 0, n = opt.quick ? 64 : 1024; i < n; ++i) {
    parents->push_back(MustCall(m, "update", "creds/deleg", json::object()).data["credential"].get<std::string>());
  }
  auto next = std::make_shared<std::atomic<uint64_t>>(0);
  Mount* mp = &m;
  row("delegate jwt ES256", m, [mp, parents, next](int, int64_t) {
    const std::string& parent = (*parents)[(*next)++ % parents->size()];
    json body = {{"token", parent}, {"grants", json::array({"write s3://backups/db1/*"})}, {"ttl", 600}};
    RequestResult r = Call(*mp, "update", "delegate", body);
    return Ok(r, "delegate") && r.data.contains("credential");
  });
  // Root -> child -> grandchild -> great-grandchild, 64 times: the last one's
  // introspection checks its three ancestors. The roots are measured right
  // before, in the same process state, as the baseline.
  std::vector<std::string> roots;
  std::vector<std::string> deep;
  for (int i = 0; i < 64; ++i) {
    std::string token = MustCall(m, "update", "creds/deleg", json::object()).data["credential"];
    roots.push_back(token);
    for (int depth = 1; depth <= 3; ++depth) {
      token = MustCall(m, "update", "delegate", {{"token", token}}).data["credential"];
    }
    deep.push_back(token);
  }
  row("introspect jwt ES256 depth 0", m, IntrospectOp(&m, roots, false));
  row("introspect jwt ES256 depth 3", m, IntrospectOp(&m, deep, false));
}

}  // namespace

// What a request costs the plugin process (the figure an operator pays,
// and issue 11's targets), 8 callers, saturated and paced: the runtime alone
// (mock plugin) beside the Go reference, then issuance and introspection.
json CostRows(const Options& opt, PluginHost& mock_host, Mount& mock, PluginHost& host,
              const std::map<std::string, Mount*>& mounts_in) {
  std::map<std::string, Mount*> mounts = mounts_in;
  namespace tb = taskcred::bench;
  std::printf("\n== cost per request: plugin CPU (utime+stime over the row), host CPU, brokered calls, "
              "context switches, threads ==\n");
  PrintCostHeader();
  json cost = json::array();
  auto brokered = [](Mount& m) { return [&m] { return StorageOps(m) + m.system_view().calls(); }; };
  auto cost_row = [&](const std::string& name, pid_t pid, Mount& m, const Op& op) {
    if (name.find(opt.cost_rows) == std::string::npos) return;
    Warm(op, opt.quick ? 3 : 50);
    for (double rate : opt.cost_loads) {
      CostSpec spec;
      spec.callers = 8;
      spec.rate = rate;
      spec.requests = rate > 0 ? static_cast<int64_t>(rate * opt.cost_seconds) : opt.cost_requests;
      CostStats s;
      if (!MeasureCost(pid, spec, op, brokered(m), &s)) Die("a cost request failed (see above)");
      PrintCost(name, s);
      json j = ToJson(s);
      j["operation"] = name;
      cost.push_back(j);
    }
  };
  // The runtime alone (mock plugin), beside the same two handlers in a Go
  // plugin (go-plugin + grpc-go) launched by the same harness.
  std::unique_ptr<PluginHost> go_host;
  Mount* go = nullptr;
  if (!opt.goref.empty()) {
    go_host = StartHost(opt.goref);
    go = &NewMount(*go_host);
    go->storage().Put("kv/bench", {R"({"v":"value"})", false});
  }
  for (int pass = 0; pass < 2; ++pass) {
    const bool is_go = pass == 1;
    if (is_go && go == nullptr) break;
    Mount& m = is_go ? *go : mock;
    const pid_t pid = is_go ? go_host->pid() : mock_host.pid();
    const std::string who = is_go ? "Go reference" : "taskcred runtime";
    cost_row("noop: " + who, pid, m, [&m](int, int64_t) { return Ok(Call(m, "read", "sleep", {{"ms", 0}}), "noop"); });
    cost_row("storage get: " + who, pid, m,
             [&m](int, int64_t) { return Ok(Call(m, "read", "kv/bench", nullptr), "kv read"); });
  }
  for (const char* alg : {"ES256", "EdDSA"}) {
    Mount* m = mounts[alg];
    cost_row(std::string("creds jwt ") + alg, host.pid(), *m,
             [m](int, int64_t) { return Ok(Call(*m, "update", "creds/jwt", json::object()), "creds jwt"); });
  }
  // Issue 13's budget: the status list may add at most 10 % to an issuance.
  {
    Mount* m = mounts["ES256"];
    MustCall(*m, "update", "config", {{"status_list", false}});
    cost_row("creds jwt ES256 status off", host.pid(), *m,
             [m](int, int64_t) { return Ok(Call(*m, "update", "creds/jwt", json::object()), "creds jwt"); });
    MustCall(*m, "update", "config", {{"status_list", true}});
  }
  for (const char* alg : {"ES256", "EdDSA"}) {
    Mount* m = mounts[alg];
    std::vector<std::string> tokens;
    for (int i = 0; i < 64; ++i) {
      tokens.push_back(MustCall(*m, "update", "creds/jwt", json::object()).data["credential"].get<std::string>());
    }
    for (bool consume : {false, true}) {
      if (consume && std::string(alg) != "ES256") continue;
      cost_row(std::string("introspect jwt ") + alg + (consume ? " consume" : ""), host.pid(), *m,
               IntrospectOp(m, tokens, consume));
    }
  }
  // Issue 13: introspection of DPoP-bound credentials, each request with a
  // fresh proof (minted by the host: its CPU is the host's, not the plugin's).
  {
    Mount* m = mounts["ES256"];
    json role = {{"task", "bench-task"},
                 {"grants", json::array({"read kv://db1/backup-user", "write s3://backups/db1/*"})},
                 {"ttl", "1h"},
                 {"binding", "dpop"}};
    MustCall(*m, "create", "roles/dpop", role);
    auto holder = std::make_shared<crypto::SigningKey>(*crypto::SigningKey::Generate(crypto::Algorithm::kES256));
    std::vector<std::string> tokens;
    for (int i = 0; i < 64; ++i) {
      json params = {{"dpop_jkt", taskcred::test::Jkt(*holder)}};
      tokens.push_back(MustCall(*m, "update", "creds/dpop", params).data["credential"].get<std::string>());
    }
    auto counter = std::make_shared<std::atomic<int64_t>>(0);
    cost_row("introspect jwt ES256 dpop", host.pid(), *m, [m, tokens, holder, counter](int c, int64_t i) {
      const std::string& token = tokens[static_cast<size_t>(c * 7 + i) % tokens.size()];
      const std::string url = "https://files.example/db1/4711";
      const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      std::string proof = taskcred::test::SignProof(
          *holder, taskcred::test::GoodProof(*holder, "PUT", url, token, now, "b-" + std::to_string((*counter)++)));
      json d = {{"token", token},          {"resource", "s3://backups/db1/4711"}, {"action", "write"},
                {"dpop_proof", proof},     {"method", "PUT"},                    {"url", url}};
      RequestResult r = Call(*m, "update", "introspect", d);
      return Ok(r, "introspect dpop") && r.data["active"] == true && r.data["allowed"] == true;
    });
  }
  DelegationRows(opt, *mounts["ES256"], [&](const std::string& name, Mount& m, const Op& op) {
    cost_row(name, host.pid(), m, op);
  });
  return cost;
}

}  // namespace taskcred::bench
