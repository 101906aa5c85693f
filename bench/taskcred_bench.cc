// taskcred-bench: measures the real taskcred plugin binary under the project's
// host harness (fake Vault, real AutoMTLS gRPC transport, brokered in-memory
// storage) and prints a table plus, with --json, a JSON file. BENCHMARKS.md
// explains every figure and the goals of issue 5.
//
//   taskcred-bench [--plugin PATH] [--mock-plugin PATH] [--go-plugin PATH] [--quick]
//                  [--ops N] [--iterations N] [--scale N] [--launches N]
//                  [--levels 1,8,32] [--repeat N] [--json FILE]
//                  [--cost-only] [--cost-requests N] [--cost-seconds S]
//                  [--cost-rows SUBSTRING] [--cost-loads saturated,1000,2000]
//   taskcred-bench --soak [--plugin PATH] [--soak-restarts N] [--soak-callers N]
//                  [--soak-interval-ms N]
//   taskcred-bench --large-bodies [--plugin PATH] [--large-body-count N] [--large-body-mb N]
//   taskcred-bench --memory-only [--plugin PATH] [--iterations N]
//   taskcred-bench --status-list [--plugin PATH] [--status-credentials N] [--status-revoked-percent P]
//   taskcred-bench --train [--plugin PATH] [--train-requests N]
//   taskcred-bench --narrowing [--narrowing-rounds N] [--narrowing-seed S]
//
// Shared helpers are in bench_util.cc, the cost-per-request rows in
// cost_rows.cc (measured by cost.cc), the memory section in memory.cc.
//
// Exit status: 0 when every measurement ran (goals missed are reported, not
// failures); 1 when a request failed or the plugin misbehaved.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "cost.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/random.h"
#include "crypto/signing_key.h"
#include "engine/task_store.h"
#include "grants/narrowing_property.h"
#include "harness/certs.h"
#include "harness/plugin_host.h"
#include "harness/process.h"
#include "large_bodies.h"
#include "memory.h"
#include "soak.h"
#include "startup.h"
#include "status_list.h"
#include "train.h"

namespace {

using namespace taskcred::bench;
namespace crypto = taskcred::crypto;

// ------------------------------------------------------------------ rows

struct Row {
  std::string name;     // e.g. "creds jwt EdDSA"
  std::string kind;     // floor | issue | introspect
  std::string crypto;   // crypto floor row name (issue/introspect)
  double needed = 0;    // storage round trips the design needs (docs/engine.md)
  RoundTrips rt;        // issue/introspect/storage rows
  std::vector<Stats> stats;  // per level
  Op op;                // the measured request, kept for the repeated 1-caller runs
};

// The floor an issuance/introspection p50 is judged against (issue 5):
// transport + the storage round trips the design needs x one storage round
// trip + the in-process crypto. `with_sv` also counts the pb.SystemView
// calls the request makes, each one more brokered round trip.
struct Floor {
  double rtt = 0;      // one brokered storage round trip: p50(kv read) - p50(no-op)
  double strict = 0;   // transport + needed x rtt + crypto
  double with_sv = 0;  // strict + system_view_calls x rtt
};
Floor FloorOf(const Row& r, double transport_p50, double storage_p50, double crypto_p50) {
  Floor f;
  f.rtt = std::max(0.0, storage_p50 - transport_p50);
  f.strict = transport_p50 + r.needed * f.rtt + crypto_p50;
  f.with_sv = f.strict + r.rt.system_view * f.rtt;
  return f;
}


}  // namespace

int main(int argc, char** argv) {
  const Options opt = ParseArgs(argc, argv);
  if (opt.soak) {
    return RunSoak({.plugin = opt.plugin,
                    .callers = opt.soak_callers,
                    .restarts = opt.soak_restarts,
                    .interval_ms = opt.soak_interval_ms});
  }
  if (opt.status_list) {
    return RunStatusListBench({.plugin = opt.plugin,
                               .credentials = opt.status_credentials,
                               .revoked_percent = opt.status_revoked_percent});
  }
  if (opt.narrowing) {
    // The property the grants tests run with a fixed seed, long and from a
    // fresh seed: a counterexample is a failure (exit 1).
    const auto seed = static_cast<uint32_t>(
        opt.narrowing_seed >= 0 ? opt.narrowing_seed
                                : std::chrono::steady_clock::now().time_since_epoch().count() & 0x7fffffff);
    const auto start = std::chrono::steady_clock::now();
    auto run = taskcred::grants::proptest::RunNarrowingProperty(seed, static_cast<uint64_t>(opt.narrowing_rounds));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("narrowing property: seed %u, %llu rounds in %.1f s: %llu children accepted, %llu refused, "
                "%llu (resource, action) checks\n",
                seed, static_cast<unsigned long long>(run.rounds), secs, static_cast<unsigned long long>(run.accepted),
                static_cast<unsigned long long>(run.refused), static_cast<unsigned long long>(run.checks));
    if (!run.failure.empty()) {
      std::printf("COUNTEREXAMPLE: %s\n", run.failure.c_str());
      return 1;
    }
    std::printf("no accepted child allowed anything its parent does not\n");
    return 0;
  }
  if (opt.train) return RunTraining({.plugin = opt.plugin, .requests = opt.train_requests});
  if (opt.large_bodies) {
    return RunLargeBodies({.plugin = opt.plugin, .count = opt.large_body_count, .megabytes = opt.large_body_mb});
  }
  if (opt.memory_only) {
    json memory = MeasureMemory(opt);
    if (!opt.json_path.empty()) std::ofstream(opt.json_path) << memory.dump(2) << "\n";
    return 0;
  }
  json out;
  out["options"] = {{"quick", opt.quick}, {"ops", opt.ops}, {"iterations", opt.iterations},
                    {"scale", opt.scale}, {"launches", opt.launches}, {"levels", opt.levels},
                    {"repeat", opt.repeat}};
  out["machine"] = {{"nproc", std::thread::hardware_concurrency()}, {"loadavg_start", LoadAvg()}};
  std::printf("taskcred-bench: %u CPUs, load average %s%s\n", std::thread::hardware_concurrency(),
              LoadAvg().c_str(), opt.quick ? " (quick smoke run: figures are not meaningful)" : "");

  // ------------------------------------------------------------ start-up
  // First, while this process is small (startup.h says why).
  if (!opt.cost_only) out["startup"] = MeasureStartup(opt);

  // ------------------------------------------------------------ hosts
  auto mock_host = StartHost(opt.mock);
  Mount& mock = NewMount(*mock_host);
  MustCall(mock, "update", "kv/bench", {{"v", "value"}});
  auto host = StartHost(opt.plugin);
  std::map<std::string, Mount*> mounts;
  for (const char* alg : {"EdDSA", "ES256", "RS256"}) mounts[alg] = &TaskcredMount(*host, alg);

  // ------------------------------------------------------------ cost
  // What a request costs the plugin process (the figure an operator pays,
  // and issue 11's targets), 8 callers, saturated and paced.
  {
    out["cost"] = CostRows(opt, *mock_host, mock, *host, mounts);
    if (opt.cost_only) {
      if (!opt.json_path.empty()) {
        std::ofstream f(opt.json_path);
        f << out.dump(2) << "\n";
      }
      return 0;
    }
  }

  std::vector<Row> rows;
  auto run_row = [&](Row row, const Op& op, Mount* counted) {
    Warm(op, opt.quick ? 3 : 30);
    if (counted != nullptr) row.rt = CountRoundTrips(*counted, op);
    row.op = op;
    for (int level : opt.levels) {
      row.stats.push_back(Measure(level, opt.ops, op));
      PrintStats(row.name, row.stats.back());
    }
    rows.push_back(std::move(row));
  };

  std::printf("\n== throughput and latency (AutoMTLS gRPC, brokered storage) ==\n");
  PrintStatsHeader();
  // Transport floor: the mock's `sleep` path with ms=0 answers a response
  // without storage or system-view calls: one full HandleRequest over mTLS.
  run_row({.name = "floor transport (mock sleep 0)", .kind = "floor"},
          [&](int, int64_t) { return Ok(Call(mock, "read", "sleep", {{"ms", 0}}), "noop"); }, &mock);
  // Storage floor: mock kv read = transport + exactly one brokered Get.
  run_row({.name = "floor storage (mock kv read)", .kind = "floor"},
          [&](int, int64_t) { return Ok(Call(mock, "read", "kv/bench", nullptr), "kv read"); }, &mock);

  // Crypto floors, in process.
  std::map<std::string, std::pair<crypto::SigningKey, json>> keys;
  for (auto alg : {crypto::Algorithm::kEdDSA, crypto::Algorithm::kES256, crypto::Algorithm::kRS256}) {
    auto k = crypto::SigningKey::Generate(alg);
    if (!k.ok()) Die("key generation failed");
    json jwks = {{"keys", json::array({k->PublicJwk("kid1")})}};
    keys.emplace(std::string(crypto::AlgorithmName(alg)), std::make_pair(*k, jwks));
  }
  const json claims = ClaimsSample();
  for (auto& [alg, kj] : keys) {
    const crypto::SigningKey key = kj.first;
    run_row({.name = "floor sign JWT " + alg, .kind = "floor"},
            [&, key](int, int64_t) { return crypto::SignJwt(key, "kid1", claims).ok(); }, nullptr);
    auto token = crypto::SignJwt(key, "kid1", claims);
    if (!token.ok()) Die("SignJwt failed");
    const std::string t = *token;
    const json jwks = kj.second;
    // What introspection does: decode, then verify with the parsed public
    // key the key ring caches per kid.
    const crypto::PublicKey pub = key.public_key();
    run_row({.name = "floor verify JWT " + alg, .kind = "floor"},
            [t, pub](int, int64_t) {
              auto d = crypto::DecodeJwt(t);
              return d.ok() && pub.Verify(d->signing_input, d->signature).ok();
            },
            nullptr);
    // For comparison: verification against a JWKS, importing (and, for RSA,
    // validating) the JWK on every call, as a relying party without a key
    // cache would.
    run_row({.name = "floor verify JWT " + alg + " (JWK import)", .kind = "floor"},
            [&, t, jwks](int, int64_t) { return crypto::DecodeAndVerifyJwt(t, jwks).ok(); }, nullptr);
  }
  run_row({.name = "floor mint opaque", .kind = "floor"},
          [](int, int64_t) {
            std::string tok = "tcop_" + crypto::NewUuid() + "_" + crypto::RandomToken(32);
            return !crypto::Sha256Hex(tok).empty();
          },
          nullptr);
  const std::string sample_opaque = "tcop_" + crypto::NewUuid() + "_" + crypto::RandomToken(32);
  const std::string sample_hash = crypto::Sha256Hex(sample_opaque);
  run_row({.name = "floor check opaque", .kind = "floor"},
          [&](int, int64_t) { return crypto::ConstantTimeEquals(crypto::Sha256Hex(sample_opaque), sample_hash); },
          nullptr);

  // Issuance.
  for (const char* alg : {"EdDSA", "ES256", "RS256"}) {
    Mount* m = mounts[alg];
    run_row({.name = std::string("creds jwt ") + alg, .kind = "issue", .crypto = std::string("floor sign JWT ") + alg,
             .needed = 2},
            [m](int, int64_t) { return Ok(Call(*m, "update", "creds/jwt", json::object()), "creds jwt"); }, m);
  }
  {
    Mount* m = mounts["EdDSA"];
    run_row({.name = "creds opaque", .kind = "issue", .crypto = "floor mint opaque", .needed = 2},
            [m](int, int64_t) { return Ok(Call(*m, "update", "creds/opaque", json::object()), "creds opaque"); }, m);
  }

  // Introspection over a pool of live credentials.
  auto pool = [&](Mount& m, const std::string& role) {
    std::vector<std::string> tokens;
    for (int i = 0; i < 64; ++i) {
      tokens.push_back(MustCall(m, "update", "creds/" + role, json::object()).data["credential"].get<std::string>());
    }
    return tokens;
  };
  auto introspect_rows = [&](Mount* m, const std::vector<std::string>& tokens, const std::string& label,
                             const std::string& crypto_row) {
    for (bool consume : {false, true}) {
      run_row({.name = "introspect " + label + (consume ? " consume" : ""), .kind = "introspect",
               .crypto = crypto_row, .needed = consume ? 2.0 : 1.0},
              IntrospectOp(m, tokens, consume),
              m);
    }
  };
  std::map<std::string, std::vector<std::string>> pools;
  for (const char* alg : {"EdDSA", "ES256", "RS256"}) pools[alg] = pool(*mounts[alg], "jwt");
  pools["opaque"] = pool(*mounts["EdDSA"], "opaque");
  for (const char* alg : {"EdDSA", "ES256", "RS256"}) {
    introspect_rows(mounts[alg], pools[alg], std::string("jwt ") + alg, std::string("floor verify JWT ") + alg);
  }
  introspect_rows(mounts["EdDSA"], pools["opaque"], "opaque", "floor check opaque");

  // ------------------------------------------------------------ ratios
  auto find = [&](const std::string& name) -> const Row& {
    for (const auto& r : rows) {
      if (r.name == name) return r;
    }
    Die("no row " + name);
  };
  const Row& transport = rows[0];
  const Row& storage = rows[1];
  std::printf("\n== ratio to floors: p50 / (transport + needed storage round trips x rtt + crypto) ==\n");
  std::printf("rtt = p50(mock kv read) - p50(no-op), mock kv read does %.1f storage RPCs; need = round trips the\n"
              "design needs (issue: Put record + Put index; introspect: 1 Get; consume: 1 Get + 1 Put);\n"
              "did = storage RPCs measured per request; sv = pb.SystemView calls (also brokered round trips),\n"
              "counted only in the +sv ratio\n",
              storage.rt.total);
  std::printf("%-30s %4s %4s %8s %3s %4s %9s %9s %6s %6s %s\n", "operation", "need", "did", "get/put", "sv", "conc",
              "floor us", "p50 us", "ratio", "+sv", "goal<=1.3");
  json ratios = json::array();
  for (const auto& r : rows) {
    if (r.kind == "floor") continue;
    const Row& cr = find(r.crypto);
    for (size_t li = 0; li < r.stats.size(); ++li) {
      Floor f = FloorOf(r, transport.stats[li].p50_us, storage.stats[li].p50_us, cr.stats[li].p50_us);
      double ratio = r.stats[li].p50_us / f.strict;
      double ratio_sv = r.stats[li].p50_us / f.with_sv;
      char gp[32];
      std::snprintf(gp, sizeof(gp), "%.0f/%.0f", r.rt.gets, r.rt.puts);
      std::printf("%-30s %4.0f %4.1f %8s %3.0f %4d %9.1f %9.1f %6.2f %6.2f %s\n", r.name.c_str(), r.needed, r.rt.total, gp,
                  r.rt.system_view, r.stats[li].callers, f.strict, r.stats[li].p50_us, ratio, ratio_sv,
                  ratio <= 1.3 ? "met" : "MISSED");
      ratios.push_back({{"operation", r.name}, {"callers", r.stats[li].callers}, {"storage_rpcs", r.rt.total},
                        {"storage_rpcs_needed", r.needed}, {"system_view_calls", r.rt.system_view},
                        {"transport_p50_us", transport.stats[li].p50_us}, {"storage_rtt_us", f.rtt},
                        {"crypto_p50_us", cr.stats[li].p50_us}, {"floor_us", f.strict},
                        {"floor_with_sv_us", f.with_sv}, {"p50_us", r.stats[li].p50_us}, {"ratio", ratio},
                        {"ratio_with_sv", ratio_sv}, {"goal_met", ratio <= 1.3}});
    }
  }

  // Repeated 1-caller runs, interleaved so drifting machine load hits every
  // row alike; medians of the p50s give the headline ratios.
  json repeated = json::object();
  if (opt.repeat > 1) {
    std::printf("\n== ratio to floors at 1 caller: median p50 of %d interleaved runs (%lld requests each) ==\n",
                opt.repeat, static_cast<long long>(opt.ops));
    std::map<std::string, std::vector<double>> p50s;
    for (int rep = 0; rep < opt.repeat; ++rep) {
      for (const auto& r : rows) {
        p50s[r.name].push_back(Measure(1, opt.ops, r.op).p50_us);
      }
      std::printf("  run %d of %d done, load average %s\n", rep + 1, opt.repeat, LoadAvg().c_str());
      std::fflush(stdout);
    }
    auto med = [&](const std::string& n) { return Median(p50s[n]); };
    std::printf("%-30s %9s %9s %9s %6s %6s %s\n", "operation", "floor us", "p50 us", "p50 range", "ratio", "+sv",
                "goal<=1.3");
    json rr = json::array();
    for (const auto& r : rows) {
      if (r.kind == "floor") continue;
      Floor f = FloorOf(r, med(transport.name), med(storage.name), med(r.crypto));
      double p = med(r.name);
      auto [lo, hi] = std::minmax_element(p50s[r.name].begin(), p50s[r.name].end());
      char range[48];
      std::snprintf(range, sizeof(range), "%.0f-%.0f", *lo, *hi);
      std::printf("%-30s %9.1f %9.1f %9s %6.2f %6.2f %s\n", r.name.c_str(), f.strict, p, range, p / f.strict,
                  p / f.with_sv, p / f.strict <= 1.3 ? "met" : "MISSED");
      rr.push_back({{"operation", r.name}, {"floor_us", f.strict}, {"floor_with_sv_us", f.with_sv},
                    {"p50_us", p}, {"p50_samples_us", p50s[r.name]}, {"ratio", p / f.strict},
                    {"ratio_with_sv", p / f.with_sv}, {"goal_met", p / f.strict <= 1.3}});
    }
    std::printf("floors (median p50): no-op %.1f us, kv read %.1f us, rtt %.1f us\n", med(transport.name),
                med(storage.name), std::max(0.0, med(storage.name) - med(transport.name)));
    json floors = json::object();
    for (auto& [n, v] : p50s) floors[n] = {{"median_p50_us", Median(v)}, {"samples_us", v}};
    repeated = {{"runs", opt.repeat}, {"ops", opt.ops}, {"rows", rr}, {"medians", floors}};
  }
  out["repeated_1_caller"] = repeated;
  json jrows = json::array();
  for (const auto& r : rows) {
    json j = {{"name", r.name}, {"kind", r.kind}, {"levels", json::array()}};
    for (const auto& s : r.stats) j["levels"].push_back(ToJson(s));
    if (r.kind != "floor" || r.rt.total > 0) {
      j["storage_rpcs"] = {{"total", r.rt.total}, {"gets", r.rt.gets}, {"puts", r.rt.puts},
                           {"lists", r.rt.lists}, {"deletes", r.rt.deletes}, {"system_view_calls", r.rt.system_view}};
    }
    jrows.push_back(j);
  }
  out["rows"] = jrows;
  out["ratios"] = ratios;

  // ------------------------------------------------------------ memory
  out["memory"] = MeasureMemory(opt);

  // ------------------------------------------------------------ scale
  std::printf("\n== scale: %lld live records preloaded vs an empty mount (1 caller, p50) ==\n",
              static_cast<long long>(opt.scale));
  {
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    Mount& empty = TaskcredMount(*host, "EdDSA");
    Mount& loaded = TaskcredMount(*host, "EdDSA");
    auto t0 = SteadyClock::now();
    Preload(loaded, opt.scale, now + 3600);
    double preload_s = Seconds(SteadyClock::now() - t0);
    auto issue = [](Mount& m) -> Op {
      return [&m](int, int64_t) { return Ok(Call(m, "update", "creds/jwt", json::object()), "creds"); };
    };
    auto introspect = [](Mount& m, std::vector<std::string> tokens) -> Op {
      return [&m, tokens](int, int64_t i) {
        RequestResult r = Call(m, "update", "introspect", {{"token", tokens[i % tokens.size()]}});
        return Ok(r, "introspect") && r.data["active"] == true;
      };
    };
    auto empty_tokens = pool(empty, "jwt");
    auto loaded_tokens = pool(loaded, "jwt");
    json scale = {{"records", opt.scale}, {"preload_seconds", preload_s}};
    for (const auto& [label, make] :
         std::vector<std::pair<std::string, std::function<Op(Mount&, const std::vector<std::string>&)>>>{
             {"creds jwt EdDSA", [&](Mount& m, const std::vector<std::string>&) { return issue(m); }},
             {"introspect jwt EdDSA", [&](Mount& m, const std::vector<std::string>& t) { return introspect(m, t); }}}) {
      Op e = make(empty, empty_tokens), l = make(loaded, loaded_tokens);
      Warm(e, 10);
      Warm(l, 10);
      // Alternate twice so drift in machine load hits both sides.
      std::vector<double> pe, pl;
      for (int rep = 0; rep < 2; ++rep) {
        pe.push_back(Measure(1, opt.ops, e).p50_us);
        pl.push_back(Measure(1, opt.ops, l).p50_us);
      }
      double me = (pe[0] + pe[1]) / 2, ml = (pl[0] + pl[1]) / 2;
      std::printf("%-22s empty %8.1f us   loaded %8.1f us   ratio %.2f   goal <= 1.2: %s\n", label.c_str(), me, ml,
                  ml / me, ml / me <= 1.2 ? "met" : "MISSED");
      scale[label] = {{"empty_p50_us", me}, {"loaded_p50_us", ml}, {"ratio", ml / me}};
    }

    // Tidy: proportional to what it removes (live records cost nothing).
    std::printf("\n== tidy ==\n");
    json tidy = json::array();
    for (auto [expired, live] : std::vector<std::pair<int64_t, int64_t>>{
             {std::max<int64_t>(1, opt.scale / 10), opt.scale}, {opt.scale, 0}}) {
      Mount& t = TaskcredMount(*host, "EdDSA");
      Preload(t, expired, now - 3 * 3600);
      Preload(t, live, now + 3600);
      int64_t before = StorageOps(t);
      auto t1 = SteadyClock::now();
      RequestResult r = Call(t, "update", "tidy", json::object(), std::chrono::minutes(30));
      double s = Seconds(SteadyClock::now() - t1);
      if (!Ok(r, "tidy")) Die("tidy failed");
      int64_t deleted = r.data.value("tasks_deleted", int64_t{-1});
      int64_t rpcs = StorageOps(t) - before;
      if (deleted != expired) Die("tidy deleted " + std::to_string(deleted) + " of " + std::to_string(expired));
      std::printf("expired %7lld + live %7lld: %7.2f s, %8.0f records/s, %6.1f us/record, %.2f storage RPCs/record\n",
                  static_cast<long long>(expired), static_cast<long long>(live), s, deleted / s, s * 1e6 / deleted,
                  double(rpcs) / deleted);
      tidy.push_back({{"expired", expired}, {"live", live}, {"seconds", s}, {"records_per_s", deleted / s},
                      {"storage_rpcs", rpcs}, {"response", r.data}});
    }
    scale["tidy"] = tidy;
    out["scale"] = scale;
  }

  out["machine"]["loadavg_end"] = LoadAvg();
  std::printf("\nload average at end: %s\n", LoadAvg().c_str());
  if (!opt.json_path.empty()) {
    std::ofstream f(opt.json_path);
    f << out.dump(2) << "\n";
    if (!f) Die("cannot write " + opt.json_path);
    std::printf("JSON written to %s\n", opt.json_path.c_str());
  }
  return 0;
}
