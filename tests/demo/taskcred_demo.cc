// taskcred-demo: the whole life of one credential, through the real plugin
// binary, with the project's host harness playing Vault (AutoMTLS, broker,
// in-memory storage). The README's first command runs it when no `vault`
// binary is on PATH; ctest runs it as an end-to-end test (exit 0 = every step
// behaved as documented).
//
//   taskcred-demo [--plugin PATH] [--quiet]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "crypto/encoding.h"
#include "crypto/jwt.h"
#include "harness/plugin_host.h"

namespace {

using nlohmann::json;
using taskcred::test::Mount;
using taskcred::test::PluginHost;
using taskcred::test::RequestResult;
using taskcred::test::RequestSpec;

bool g_quiet = false;

void Say(const std::string& line) {
  if (!g_quiet) std::cout << line << std::endl;
}

[[noreturn]] void Fail(const std::string& what) {
  std::cerr << "demo FAILED: " << what << std::endl;
  std::exit(1);
}

void Expect(bool cond, const std::string& what) {
  if (!cond) Fail(what);
}

RequestResult Call(Mount& m, const std::string& op, const std::string& path, json data = nullptr) {
  RequestSpec spec;
  spec.operation = op;
  spec.path = path;
  spec.data = std::move(data);
  spec.entity_id = "demo-entity";
  spec.mount_point = "taskcred/";
  RequestResult r = m.HandleRequest(spec);
  Expect(r.status.ok(), op + " " + path + ": RPC failed: " + r.status.error_message());
  return r;
}

// Decodes a raw (unenveloped) HTTP response the way Vault serves it.
json RawBody(const RequestResult& r, const std::string& what) {
  Expect(r.data.is_object() && r.data.contains("http_raw_body"), what + ": not a raw response");
  auto body = taskcred::crypto::Base64Decode(r.data["http_raw_body"].get<std::string>());
  Expect(body.ok(), what + ": raw body is not base64");
  json parsed = json::parse(*body, nullptr, false);
  Expect(!parsed.is_discarded(), what + ": raw body is not JSON");
  return parsed;
}

// Verifies `token` against `jwks` with PyJWT (an independent implementation,
// what a Python resource service would use). Returns false if PyJWT is absent.
bool VerifyWithPyJwt(const std::string& token, const json& jwks, const std::string& issuer,
                     const std::string& audience) {
  if (std::system("/usr/bin/python3 -c 'import jwt, cryptography' >/dev/null 2>&1") != 0) {
    const char* require = std::getenv("TASKCRED_REQUIRE_PYJWT");
    Expect(require == nullptr || std::string(require) != "1", "PyJWT required but /usr/bin/python3 lacks jwt");
    return false;
  }
  char dir[] = "/tmp/taskcred-demo-XXXXXX";
  Expect(::mkdtemp(dir) != nullptr, "mkdtemp");
  std::string d = dir;
  std::ofstream(d + "/token") << token;
  std::ofstream(d + "/jwks.json") << jwks.dump();
  std::ofstream(d + "/verify.py") << R"PY(
import json, sys, jwt
d, iss, aud = sys.argv[1], sys.argv[2], sys.argv[3]
token = open(d + "/token").read()
keys = {k["kid"]: k for k in json.load(open(d + "/jwks.json"))["keys"]}
kid = jwt.get_unverified_header(token)["kid"]
jwk = jwt.PyJWK(keys[kid])
claims = jwt.decode(token, key=jwk.key, algorithms=[keys[kid]["alg"]], issuer=iss, audience=aud)
print("PyJWT verified: kid=%s alg=%s jti=%s" % (kid, keys[kid]["alg"], claims["jti"]))
)PY";
  std::string cmd = "/usr/bin/python3 " + d + "/verify.py " + d + " '" + issuer + "' '" + audience + "'";
  int rc = std::system(cmd.c_str());
  std::system(("rm -rf " + d).c_str());
  Expect(rc == 0, "PyJWT refused the credential");
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string plugin = taskcred::test::TaskcredPluginPath();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--plugin" && i + 1 < argc) {
      plugin = argv[++i];
    } else if (a == "--quiet") {
      g_quiet = true;
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: taskcred-demo [--plugin PATH] [--quiet]\n"
                   "Runs the taskcred plugin under the project's host harness (a fake Vault)\n"
                   "and shows one credential's life: config, role, issue, verify, introspect,\n"
                   "revoke. Exits 0 when every step behaved as documented.\n";
      return 0;
    } else {
      Fail("unknown argument " + a + " (see --help)");
    }
  }
  Expect(!plugin.empty(), "plugin binary unknown: pass --plugin PATH");

  Say("== taskcred demo: the real plugin binary under the project's host harness ==");
  taskcred::test::HostOptions options;
  options.binary = plugin;
  auto host = PluginHost::Start(options);
  Expect(host.ok(), "launch: " + host.status().ToString());
  Say("1. launched " + plugin + " as Vault does (AutoMTLS, P-521 host certificate)");
  Say("   handshake: " + (*host)->handshake().raw.substr(0, 60) + "...");

  auto mount_or = (*host)->Setup({});
  Expect(mount_or.ok(), "setup: " + mount_or.status().ToString());
  Mount& m = **mount_or;
  Expect(m.setup().ok() && m.setup().reply.err().empty(), "Setup failed: " + m.setup().reply.err());
  auto type = m.Type();
  Expect(type.ok() && type.reply.type() == 1, "Type is not logical");
  auto init = m.Initialize();
  Expect(init.ok() && !init.reply.has_err(), "Initialize failed");
  Say("2. vault secrets enable -path=taskcred taskcred      (Setup, Type=logical, Initialize)");

  const std::string issuer = "https://vault.example.com/v1/taskcred";
  auto r = Call(m, "update", "config",
                {{"signing_algorithm", "EdDSA"}, {"issuer", issuer}, {"default_audience", "backup-service"}});
  Expect(r.http_status == 204 || r.http_status == 200, "config write: " + r.error);
  Say("3. vault write taskcred/config signing_algorithm=EdDSA issuer=" + issuer);

  json role = {{"task", "nightly-backup"},
               {"grants", json::array({"write s3://backups/db1/{{snapshot_id}}", "read kv://db1/backup-user"})},
               {"parameters", {{"snapshot_id", "^[0-9]{1,12}$"}}},
               {"ttl", "15m"},
               {"max_ttl", "1h"},
               {"audience", "backup-service"},
               {"max_uses", 1}};
  RequestSpec probe;
  probe.operation = "update";
  probe.path = "roles/backup-job";
  auto exists = m.HandleExistenceCheck(probe);
  Expect(exists.ok() && exists.reply.check_found() && !exists.reply.exists(), "existence check");
  r = Call(m, "create", "roles/backup-job", role);
  Expect(r.http_status == 204 || r.http_status == 200, "role write: " + r.error);
  r = Call(m, "read", "roles/backup-job");
  Expect(r.http_status == 200, "role read: " + r.error);
  Say("4. vault write taskcred/roles/backup-job task=nightly-backup ttl=15m max_ttl=1h max_uses=1 ...");
  Say("   read back: grants=" + r.data["grants"].dump());

  auto bad = Call(m, "update", "creds/backup-job", {{"snapshot_id", "../other-db"}});
  Expect(bad.http_status == 400, "a widening parameter must be refused");
  Say("5. vault write taskcred/creds/backup-job snapshot_id=../other-db  -> " + std::to_string(bad.http_status) +
      ": " + bad.error);

  r = Call(m, "update", "creds/backup-job", {{"snapshot_id", "4711"}});
  Expect(r.http_status == 200, "issue: " + r.error);
  const json cred = r.data;
  const ::pb::Secret secret = r.reply.response().secret();
  Expect(r.reply.response().has_secret(), "issuance must return a lease");
  const std::string token = cred["credential"];
  const std::string task_id = cred["task_id"];
  Say("6. vault write taskcred/creds/backup-job snapshot_id=4711");
  Say("   task_id=" + task_id + " expires_at=" + cred["expires_at"].get<std::string>() +
      " lease ttl=" + std::to_string(secret.lease_options().ttl() / 1000000000) + "s");
  Say("   grants=" + cred["grants"].dump());

  r = Call(m, "read", ".well-known/jwks.json");
  json jwks = RawBody(r, "jwks");
  auto decoded = taskcred::crypto::DecodeJwt(token);
  Expect(decoded.ok(), "credential is not a JWT");
  Expect(taskcred::crypto::VerifyJwtSignature(*decoded, jwks).ok(), "JWKS does not verify the credential");
  Say("7. GET /v1/taskcred/.well-known/jwks.json (unauthenticated): " + std::to_string(jwks["keys"].size()) +
      " keys; signature verified (kid " + decoded->header["kid"].get<std::string>() + ")");
  if (VerifyWithPyJwt(token, jwks, issuer, "backup-service")) {
    Say("   independent check with PyJWT passed (iss, aud, exp)");
  }

  r = Call(m, "update", "introspect",
           {{"token", token}, {"resource", "s3://backups/db1/4711"}, {"action", "write"}});
  Expect(r.http_status == 200 && r.data["active"] == true, "introspect should be active");
  Expect(r.data["allowed"] == true, "write to the run's own snapshot must be allowed");
  Say("8. vault write taskcred/introspect token=... resource=s3://backups/db1/4711 action=write");
  Say("   active=true allowed=true task=" + r.data["task"].get<std::string>());
  r = Call(m, "update", "introspect",
           {{"token", token}, {"resource", "s3://backups/db1/4712"}, {"action", "write"}});
  Expect(r.data["active"] == true && r.data["allowed"] == false,
         "another snapshot must not be allowed");
  Say("   resource=s3://backups/db1/4712 -> allowed=false");

  RequestSpec revoke;
  revoke.operation = "revoke";
  revoke.path = "creds/backup-job";
  revoke.data = cred;
  revoke.secret_internal_data = json::parse(secret.internal_data());
  revoke.lease_id = "taskcred/creds/backup-job/demo";
  r = m.HandleRequest(revoke);
  Expect(r.status.ok() && r.http_status < 400, "revoke: " + r.error);
  Say("9. vault lease revoke taskcred/creds/backup-job/...  (Vault calls the engine's revoke)");

  r = Call(m, "update", "introspect", {{"token", token}});
  Expect(r.data == json({{"active", false}}), "revoked credential must be inactive, got " +
                                                          r.data.dump());
  Say("10. vault write taskcred/introspect token=...  -> " + r.data.dump());

  m.Cleanup();
  auto shut = (*host)->Shutdown();
  auto exit = (*host)->WaitExit(std::chrono::seconds(5));
  Expect(exit.has_value(), "plugin did not exit after Shutdown");
  Say("11. unmounted and shut down; plugin exited cleanly");
  Say("demo OK");
  return 0;
}
