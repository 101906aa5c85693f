#include "vault_front.h"

#include <utility>

#include "crypto/encoding.h"

namespace taskcred::test {

using nlohmann::json;

namespace {

TestResponse JsonResponse(int status, const json& body) {
  TestResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

TestResponse Errors(int status, const std::string& message) {
  return JsonResponse(status, {{"errors", json::array({message})}});
}

bool IsUnauthenticated(const std::string& path) {
  // The engine's SpecialPaths.unauthenticated: "status/*" is a prefix, as in Vault.
  return path == "jwks" || path == ".well-known/jwks.json" || path == ".well-known/openid-configuration" ||
         path.rfind("status/", 0) == 0;
}

}  // namespace

VaultFront::VaultFront(Mount& mount, std::string mount_path, std::string token)
    : mount_(mount), mount_path_(std::move(mount_path)), token_(std::move(token)) {
  server_ = std::make_unique<TestHttpServer>([this](const TestRequest& req) { return Handle(req); });
}

TestResponse VaultFront::Handle(const TestRequest& req) {
  const std::string prefix = "/v1/" + mount_path_ + "/";
  std::string target = req.target;
  if (size_t q = target.find('?'); q != std::string::npos) target.resize(q);
  if (target.rfind(prefix, 0) != 0) return Errors(404, "no handler for route");
  const std::string path = target.substr(prefix.size());

  std::string operation;
  if (req.method == "GET") {
    operation = "read";
  } else if (req.method == "PUT" || req.method == "POST") {
    operation = "update";
  } else {
    return Errors(405, "unsupported operation");
  }
  if (!IsUnauthenticated(path)) {
    auto it = req.headers.find("x-vault-token");
    if (it == req.headers.end() || it->second != token_) return Errors(403, "permission denied");
  }
  json data = nullptr;
  if (operation == "update" && !req.body.empty()) {
    data = json::parse(req.body, nullptr, false);
    if (data.is_discarded() || !data.is_object()) return Errors(400, "failed to parse JSON input");
  }

  RequestSpec spec;
  spec.operation = operation;
  spec.path = path;
  spec.data = std::move(data);
  spec.mount_point = mount_path_ + "/";
  RequestResult r = mount_.HandleRequest(spec);
  if (!r.status.ok()) return Errors(500, "plugin RPC failed: " + r.status.error_message());

  // Raw responses (the JWKS and discovery documents): Vault decodes them.
  if (r.data.is_object() && r.data.contains("http_raw_body")) {
    TestResponse raw;
    raw.status = r.data.value("http_status_code", 200);
    raw.content_type = r.data.value("http_content_type", std::string("application/json"));
    auto body = crypto::Base64Decode(r.data["http_raw_body"].get<std::string>());
    if (!body.ok()) return Errors(500, "plugin raw body is not base64");
    raw.body = std::move(body).value();
    return raw;
  }
  if (r.http_status >= 400) return Errors(r.http_status, r.error);
  if (r.data.is_null() || r.http_status == 204) {
    TestResponse empty;
    empty.status = 204;
    return empty;
  }
  return JsonResponse(200, {{"request_id", "front"}, {"data", r.data}});
}

}  // namespace taskcred::test
