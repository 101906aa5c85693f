#include "bench_util.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cost.h"
#include "crypto/jwt.h"
#include "crypto/random.h"
#include "engine/task_store.h"
#include "grants/grant.h"

namespace taskcred::bench {

namespace crypto = taskcred::crypto;


[[noreturn]] void Die(const std::string& what) {
  std::cerr << "taskcred-bench: " << what << std::endl;
  std::exit(1);
}

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }


json ToJson(const Stats& s) {
  return {{"callers", s.callers}, {"ops", s.ops},       {"seconds", s.seconds},
          {"ops_per_s", s.throughput}, {"p50_us", s.p50_us}, {"p99_us", s.p99_us}};
}

// Runs `op(caller, i)` `total` times spread over `callers` threads that start
// together; `op` returns false on a failed request (fatal: figures of failing
// requests mean nothing).

Stats Measure(int callers, int64_t total, const Op& op) {
  taskcred::bench::CostSpec spec;
  spec.callers = callers;
  spec.requests = std::max<int64_t>(int64_t{4} * callers, total);
  taskcred::bench::CostStats cost;
  if (!taskcred::bench::MeasureCost(0, spec, op, [] { return int64_t{0}; }, &cost)) {
    Die("a measured request failed (see above)");
  }
  Stats s;
  s.callers = cost.callers;
  s.ops = cost.requests;
  s.seconds = cost.seconds;
  s.throughput = cost.throughput;
  s.p50_us = cost.p50_us;
  s.p99_us = cost.p99_us;
  return s;
}

void Warm(const Op& op, int n) {
  for (int i = 0; i < n; ++i) {
    if (!op(0, i)) Die("warm-up request failed");
  }
}

RequestResult Call(Mount& m, const std::string& operation, const std::string& path, json data,
                   std::chrono::milliseconds deadline) {
  RequestSpec spec;
  spec.operation = operation;
  spec.path = path;
  spec.data = std::move(data);
  spec.entity_id = "bench-entity";
  spec.mount_point = "taskcred/";
  spec.deadline = deadline;
  return m.HandleRequest(spec);
}

bool Ok(const RequestResult& r, const std::string& what) {
  if (r.status.ok() && (r.http_status == 200 || r.http_status == 204)) return true;
  std::cerr << what << ": status " << r.http_status << " rpc=" << r.status.error_message() << " error=" << r.error
            << std::endl;
  return false;
}

RequestResult MustCall(Mount& m, const std::string& operation, const std::string& path, json data) {
  RequestResult r = Call(m, operation, path, std::move(data));
  if (!Ok(r, operation + " " + path)) Die("set-up request failed: " + operation + " " + path);
  return r;
}

// One introspection of a token from `tokens` (spread over callers), with a
// resource check the tokens' grants allow; `consume` spends a use.
Op IntrospectOp(Mount* m, std::vector<std::string> tokens, bool consume) {
  return [m, tokens = std::move(tokens), consume](int c, int64_t i) {
    json d = {{"token", tokens[(c * 7 + i) % tokens.size()]}, {"resource", "s3://backups/db1/4711"}, {"action", "write"}};
    if (consume) d["consume"] = true;
    RequestResult r = Call(*m, "update", "introspect", d);
    return Ok(r, "introspect") && r.data["active"] == true && r.data["allowed"] == true;
  };
}

std::unique_ptr<PluginHost> StartHost(const std::string& binary) {
  taskcred::test::HostOptions o;
  o.binary = binary;
  auto host = PluginHost::Start(o);
  if (!host.ok()) Die("launch " + binary + ": " + host.status().ToString());
  return std::move(host).value();
}

Mount& NewMount(PluginHost& host, taskcred::test::SetupOptions options) {
  auto m = host.Setup(std::move(options));
  if (!m.ok()) Die("setup: " + m.status().ToString());
  if (!(*m)->setup().ok() || !(*m)->setup().reply.err().empty()) Die("Setup RPC failed");
  auto init = (*m)->Initialize();
  if (!init.ok() || init.reply.has_err()) Die("Initialize failed");
  return **m;
}


// A taskcred mount signing with `alg`, with roles "jwt" and "opaque"
// (unlimited uses, 1 h TTL, two grants).
Mount& TaskcredMount(PluginHost& host, const std::string& alg) {
  Mount& m = NewMount(host);
  MustCall(m, "update", "config", {{"signing_algorithm", alg}, {"issuer", kIssuer}, {"default_audience", "svc"}});
  MustCall(m, "update", "rotate", json::object());  // the next key (of `alg`) becomes active
  json role = {{"task", "bench-task"},
               {"grants", json::array({"read kv://db1/backup-user", "write s3://backups/db1/*"})},
               {"ttl", "1h"},
               {"max_ttl", "2h"}};
  MustCall(m, "create", "roles/jwt", role);
  role["credential_type"] = "opaque";
  MustCall(m, "create", "roles/opaque", role);
  auto r = MustCall(m, "update", "creds/jwt", json::object());
  auto decoded = crypto::DecodeJwt(r.data["credential"].get<std::string>());
  if (!decoded.ok() || decoded->header["alg"] != alg) Die("mount does not sign with " + alg);
  return m;
}

int64_t StorageOps(Mount& m) {
  auto& s = m.storage();
  return s.gets() + s.puts() + s.lists() + s.deletes();
}

// Storage RPCs per request of `op`, measured serially after warm-up.
RoundTrips CountRoundTrips(Mount& m, const Op& op, int n) {
  Warm(op, 3);
  auto& s = m.storage();
  int g = s.gets(), p = s.puts(), l = s.lists(), d = s.deletes(), sv = m.system_view().calls();
  for (int i = 0; i < n; ++i) {
    if (!op(0, 1000 + i)) Die("round-trip count request failed");
  }
  RoundTrips rt;
  rt.gets = double(s.gets() - g) / n;
  rt.puts = double(s.puts() - p) / n;
  rt.lists = double(s.lists() - l) / n;
  rt.deletes = double(s.deletes() - d) / n;
  rt.total = rt.gets + rt.puts + rt.lists + rt.deletes;
  rt.system_view = double(m.system_view().calls() - sv) / n;
  return rt;
}

std::string LoadAvg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}


json ProcFields(pid_t pid, const std::string& file, std::initializer_list<const char*> keys) {
  json j = json::object();
  std::ifstream f("/proc/" + std::to_string(pid) + "/" + file);
  std::string line;
  while (std::getline(f, line)) {
    for (const char* k : keys) {
      if (line.rfind(std::string(k) + ":", 0) == 0) j[k] = std::strtoll(line.c_str() + std::strlen(k) + 1, nullptr, 10);
    }
  }
  return j;
}

int64_t VmRssKiB(pid_t pid) { return ProcFields(pid, "status", {"VmRSS"}).value("VmRSS", int64_t{0}); }

// /proc/<pid>/status and smaps_rollup figures (KiB) and the mappings with
// the largest resident set: where the plugin's memory is.
json MemoryBreakdown(pid_t pid, int top) {
  json j;
  j.update(ProcFields(pid, "status", {"VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM", "Threads"}));
  j.update(ProcFields(pid, "smaps_rollup", {"Pss", "Shared_Clean", "Private_Clean", "Private_Dirty", "Anonymous"}));
  if (top > 0) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/smaps");
    std::string line, name;
    std::map<std::string, int64_t> rss;
    while (std::getline(f, line)) {
      if (line.empty()) continue;
      const std::string first = line.substr(0, line.find(' '));
      const bool header = first.find('-') != std::string::npos &&
                          first.find_first_not_of("0123456789abcdef-") == std::string::npos;
      if (header) {
        // "start-end perms offset dev inode [path]"
        std::istringstream ls(line);
        std::string range, perms, off, dev, inode;
        ls >> range >> perms >> off >> dev >> inode;
        std::getline(ls, name);
        name.erase(0, name.find_first_not_of(' '));
        if (name.empty()) name = "[anonymous]";
        auto slash = name.rfind('/');
        if (slash != std::string::npos) name = name.substr(slash + 1);
      } else if (line.rfind("Rss:", 0) == 0) {
        rss[name] += std::strtoll(line.c_str() + 4, nullptr, 10);
      }
    }
    std::vector<std::pair<int64_t, std::string>> v;
    for (auto& [n, k] : rss) v.emplace_back(k, n);
    std::sort(v.rbegin(), v.rend());
    json t = json::array();
    for (int i = 0; i < top && i < static_cast<int>(v.size()); ++i) t.push_back({{"mapping", v[i].second}, {"rss_kib", v[i].first}});
    j["top_mappings"] = t;
  }
  return j;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  bool ops_set = false, it_set = false, scale_set = false, launches_set = false, repeat_set = false;
  auto num = [&](int& i, const std::string& name) -> int64_t {
    if (i + 1 >= argc) Die(name + " needs a value");
    char* end = nullptr;
    long long v = std::strtoll(argv[++i], &end, 10);
    if (*end != '\0' || v <= 0) Die(name + " must be a positive integer");
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--plugin" && i + 1 < argc) {
      o.plugin = argv[++i];
    } else if (a == "--mock-plugin" && i + 1 < argc) {
      o.mock = argv[++i];
    } else if (a == "--go-plugin" && i + 1 < argc) {
      o.goref = argv[++i];
    } else if (a == "--json" && i + 1 < argc) {
      o.json_path = argv[++i];
    } else if (a == "--cost-only") {
      o.cost_only = true;
    } else if (a == "--cost-requests") {
      o.cost_requests = num(i, a);
    } else if (a == "--cost-seconds") {
      o.cost_seconds = static_cast<double>(num(i, a));
    } else if (a == "--memory-only") {
      o.memory_only = true;
    } else if (a == "--cost-rows" && i + 1 < argc) {
      o.cost_rows = argv[++i];
    } else if (a == "--cost-loads" && i + 1 < argc) {
      o.cost_loads.clear();
      std::stringstream ss(argv[++i]);
      std::string part;
      while (std::getline(ss, part, ',')) {
        double v = part == "saturated" ? 0.0 : std::atof(part.c_str());
        if (v < 0 || v > 1e6) Die("--cost-loads: saturated or rates in req/s");
        o.cost_loads.push_back(v);
      }
    } else if (a == "--soak") {
      o.soak = true;
    } else if (a == "--soak-restarts") {
      o.soak_restarts = static_cast<int>(num(i, a));
    } else if (a == "--soak-callers") {
      o.soak_callers = static_cast<int>(num(i, a));
    } else if (a == "--soak-interval-ms") {
      o.soak_interval_ms = static_cast<int>(num(i, a));
    } else if (a == "--train") {
      o.train = true;
    } else if (a == "--train-requests") {
      o.train_requests = num(i, a);
    } else if (a == "--large-bodies") {
      o.large_bodies = true;
    } else if (a == "--large-body-count") {
      o.large_body_count = static_cast<int>(num(i, a));
    } else if (a == "--large-body-mb") {
      o.large_body_mb = static_cast<int>(num(i, a));
    } else if (a == "--status-list") {
      o.status_list = true;
    } else if (a == "--status-credentials") {
      o.status_credentials = num(i, a);
    } else if (a == "--status-revoked-percent" && i + 1 < argc) {
      o.status_revoked_percent = std::atof(argv[++i]);
      if (o.status_revoked_percent < 0 || o.status_revoked_percent > 100) Die("--status-revoked-percent: 0 to 100");
    } else if (a == "--narrowing") {
      o.narrowing = true;
    } else if (a == "--narrowing-rounds") {
      o.narrowing_rounds = num(i, a);
    } else if (a == "--narrowing-seed") {
      o.narrowing_seed = num(i, a);
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--ops") {
      o.ops = num(i, a), ops_set = true;
    } else if (a == "--iterations") {
      o.iterations = num(i, a), it_set = true;
    } else if (a == "--scale") {
      o.scale = num(i, a), scale_set = true;
    } else if (a == "--launches") {
      o.launches = static_cast<int>(num(i, a)), launches_set = true;
    } else if (a == "--repeat") {
      o.repeat = static_cast<int>(num(i, a)), repeat_set = true;
    } else if (a == "--levels" && i + 1 < argc) {
      o.levels.clear();
      std::stringstream ss(argv[++i]);
      std::string part;
      while (std::getline(ss, part, ',')) {
        int v = std::atoi(part.c_str());
        if (v <= 0 || v > 1024) Die("--levels: positive integers up to 1024");
        o.levels.push_back(v);
      }
      if (o.levels.empty()) Die("--levels: empty");
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: taskcred-bench [--plugin PATH] [--mock-plugin PATH] [--go-plugin PATH] [--quick] [--ops N]\n"
                   "         [--iterations N] [--scale N] [--launches N] [--levels 1,8,32] [--repeat N]\n"
                   "         [--json FILE] [--cost-only] [--cost-requests N] [--cost-seconds S]\n"
                   "         [--cost-rows SUBSTRING] [--cost-loads saturated,1000,2000]\n"
                   "       taskcred-bench --memory-only [--plugin PATH] [--iterations N]   (VmRSS section only)\n"
                   "       taskcred-bench --soak [--plugin PATH] [--soak-restarts N] [--soak-callers N]\n"
                   "         [--soak-interval-ms N]   (kill/restart soak: invariants, no figures)\n"
                   "       taskcred-bench --large-bodies [--plugin PATH] [--large-body-count N]\n"
                   "         [--large-body-mb N]   (plugin RSS around a burst of large request bodies)\n"
                   "       taskcred-bench --status-list [--plugin PATH] [--status-credentials N]\n"
                   "         [--status-revoked-percent P]   (status lists of N credentials: size, serving cost)\n"
                   "       taskcred-bench --narrowing [--narrowing-rounds N] [--narrowing-seed S]   (the\n"
                   "         delegation narrowing property, long: no accepted child allows more than its parent)\n"
                   "       taskcred-bench --train [--plugin PATH] [--train-requests N]   (a request mix for a\n"
                   "         profile of the plugin, scripts/bolt_plugin.sh; no figures)\n"
                   "Benchmarks the taskcred plugin binary under the host harness (AutoMTLS,\n"
                   "brokered in-memory storage). See BENCHMARKS.md.\n";
      std::exit(0);
    } else {
      Die("unknown argument " + a + " (see --help)");
    }
  }
  if (o.quick) {
    if (!ops_set) o.ops = 64;
    if (!it_set) o.iterations = 300;
    if (!scale_set) o.scale = 1000;
    if (!launches_set) o.launches = 3;
    if (!repeat_set) o.repeat = 1;
    o.cost_requests = 200;
    o.cost_seconds = 0.2;
  }
  if (o.plugin.empty()) Die("taskcred binary unknown: pass --plugin PATH");
  if (o.mock.empty()) Die("mock plugin binary unknown: pass --mock-plugin PATH");
  return o;
}

json ClaimsSample() {
  return {{"iss", kIssuer},
          {"sub", "bench-entity"},
          {"aud", json::array({"svc"})},
          {"iat", 1700000000},
          {"nbf", 1700000000},
          {"exp", 1700003600},
          {"jti", crypto::NewUuid()},
          {"task", "bench-task"},
          {"role", "jwt"},
          {"grants", json::array({{{"resource", "kv://db1/backup-user"}, {"actions", json::array({"read"})}},
                                  {{"resource", "s3://backups/db1/*"}, {"actions", json::array({"write"})}}})}};
}

void PrintStatsHeader() {
  std::printf("%-34s %4s %9s %10s %10s\n", "operation", "conc", "ops/s", "p50 us", "p99 us");
}

void PrintStats(const std::string& name, const Stats& s) {
  std::printf("%-34s %4d %9.0f %10.1f %10.1f\n", name.c_str(), s.callers, s.throughput, s.p50_us, s.p99_us);
  std::fflush(stdout);
}

// Preloads `n` task records (JWT, role "jwt") straight into the harness
// storage in the engine's record format and layout (tasks/<hour>/<id>).
void Preload(Mount& m, int64_t n, int64_t expires_at) {
  namespace eng = taskcred::engine;
  eng::TaskRecord r;
  r.role = "jwt";
  r.task = "bench-task";
  r.audience = {"svc"};
  r.sub = "bench-entity";
  r.entity_id = "bench-entity";
  r.credential_type = "jwt";
  r.kid = "preloaded-kid";
  r.issued_at = expires_at - 3600;
  r.expires_at = expires_at;
  r.max_ttl_at = expires_at + 3600;
  r.ttl = 3600;
  auto grants = taskcred::grants::ParseGrants(json::array({"read kv://db1/backup-user"}));
  if (grants.ok()) r.grants = *grants;
  for (int64_t i = 0; i < n; ++i) {
    r.task_id = eng::NewTaskId(r.Horizon());
    m.storage().Put(eng::TaskStore::RecordKey(r.task_id), {r.ToJson().dump(), false});
  }
}

}  // namespace taskcred::bench
