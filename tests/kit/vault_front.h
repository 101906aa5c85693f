// VaultFront: a loopback HTTP front that speaks the small part of Vault's
// HTTP API the kit uses, in front of one harness Mount running the REAL
// taskcred plugin (tests/harness/plugin_host.h). It lets taskcred-verify and
// the Verifier talk to the plugin exactly as they would talk to Vault:
//
//   GET  /v1/<mount>/jwks, /v1/<mount>/.well-known/jwks.json,
//        /v1/<mount>/.well-known/openid-configuration, /v1/<mount>/status/...
//        unauthenticated; the plugin's raw response (http_raw_body, status,
//        content type) is passed through, as Vault does.
//   PUT|POST /v1/<mount>/<path>  -> HandleRequest(update, <path>, body JSON)
//   GET      /v1/<mount>/<path>  -> HandleRequest(read, <path>)
//        need X-Vault-Token equal to the front's token (else 403
//        {"errors":["permission denied"]}); answers {"data": ...}, 204 when
//        the plugin returned no data, {"errors":[msg]} with Vault's status on
//        errors.
//
// Everything else is 404. It is not Vault: no policies, leases or wrapping,
// and the request body must be a JSON object (or empty).
#pragma once

#include <memory>
#include <string>

#include "harness/plugin_host.h"
#include "kit/kit_test_util.h"

namespace taskcred::test {

class VaultFront {
 public:
  // `mount_path` without slashes, e.g. "taskcred".
  VaultFront(Mount& mount, std::string mount_path, std::string token);

  // http://127.0.0.1:PORT (Vault's address, without /v1).
  std::string addr() const { return server_->url(); }
  // <addr>/v1/<mount>/jwks
  std::string jwks_url() const { return addr() + "/v1/" + mount_path_ + "/jwks"; }
  const std::string& token() const { return token_; }
  int request_count() const { return server_->request_count(); }

 private:
  TestResponse Handle(const TestRequest& req);

  Mount& mount_;
  std::string mount_path_;
  std::string token_;
  std::unique_ptr<TestHttpServer> server_;
};

}  // namespace taskcred::test
