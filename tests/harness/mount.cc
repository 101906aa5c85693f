// Mount: the Backend RPCs the harness host sends for one mount (each with
// the mount's multiplex_id), the requests it builds as Vault does, and
// Vault's HTTP mapping of their replies. The host process, its connection
// and broker are plugin_host.cc.
#include <ctime>

#include "harness/certs.h"
#include "harness/plugin_host.h"

namespace taskcred::test {

using namespace std::chrono_literals;

RequestSpec MakeRequest(std::string operation, std::string path, nlohmann::json data) {
  RequestSpec spec;
  spec.operation = std::move(operation);
  spec.path = std::move(path);
  spec.data = std::move(data);
  return spec;
}

RequestSpec LeaseRequest(const std::string& operation, const RequestResult& issued) {
  RequestSpec spec = MakeRequest(operation, "creds/" + issued.data.value("role", std::string()), issued.data);
  spec.secret_internal_data =
      nlohmann::json::parse(issued.reply.response().secret().internal_data(), nullptr, false);
  spec.mount_point = "taskcred/";
  spec.lease_id = spec.mount_point + spec.path + "/lease";
  return spec;
}

int VaultHttpStatus(const ::pb::HandleRequestReply& reply, std::string_view operation) {
  nlohmann::json data = nullptr;
  if (reply.has_response()) data = nlohmann::json::parse(reply.response().data(), nullptr, false);
  bool error_response = data.is_object() && data.size() == 1 && data.contains("error");
  const auto& err = reply.err();
  bool has_err = reply.has_err() && (err.err_type() != 0 || !err.err_msg().empty()) && err.err_type() <= 10;
  if (has_err) {
    switch (err.err_type()) {
      case 3: return static_cast<int>(err.err_code());
      case 4: return 400;
      case 5: return 405;
      case 6: return 404;
      case 7: return 400;
      case 8: return 403;
      default: break;
    }
    const std::string& m = err.err_msg();
    if (m.find("permission denied") != std::string::npos) return 403;
    if (m.find("unsupported operation") != std::string::npos) return 405;
    if (m.find("unsupported path") != std::string::npos) return 404;
    if (m.find("invalid request") != std::string::npos) return 400;
    return error_response ? 400 : 500;
  }
  if (error_response) return 400;
  if (!reply.has_response()) return (operation == "read" || operation == "list") ? 404 : 204;
  if (data.is_discarded()) return 500;  // the host fails to decode Response.data
  if (data.is_object() && data.contains("http_status_code") && data["http_status_code"].is_number()) {
    return data["http_status_code"].get<int>();
  }
  if (operation == "list" && (!data.is_object() || !data.contains("keys") || data["keys"].empty())) return 404;
  return 200;
}

// --------------------------------------------------------------------- Mount

void Mount::Prepare(grpc::ClientContext* ctx, std::chrono::milliseconds deadline) const {
  ctx->set_deadline(std::chrono::system_clock::now() + deadline);
  if (host_->handshake_.app_version >= 5) ctx->AddMetadata("multiplex_id", multiplex_id_);
}

Rpc<::pb::TypeReply> Mount::Type() {
  Rpc<::pb::TypeReply> r;
  grpc::ClientContext ctx;
  Prepare(&ctx, 10s);
  r.status = host_->backend_->Type(&ctx, {}, &r.reply);
  return r;
}

Rpc<::pb::SpecialPathsReply> Mount::SpecialPaths() {
  Rpc<::pb::SpecialPathsReply> r;
  grpc::ClientContext ctx;
  Prepare(&ctx, 10s);
  r.status = host_->backend_->SpecialPaths(&ctx, {}, &r.reply);
  return r;
}

Rpc<::pb::InitializeReply> Mount::Initialize() {
  Rpc<::pb::InitializeReply> r;
  grpc::ClientContext ctx;
  Prepare(&ctx, 10s);
  r.status = host_->backend_->Initialize(&ctx, {}, &r.reply);
  return r;
}

namespace {
::pb::Request BuildRequest(const RequestSpec& spec) {
  ::pb::Request req;
  req.set_id(RandomUuid());
  req.set_operation(spec.operation);
  req.set_path(spec.path);
  req.set_data(spec.raw_data ? *spec.raw_data : spec.data.dump());
  req.set_client_token(spec.client_token);
  req.set_client_token_accessor("harness-accessor");
  req.set_display_name("harness");
  req.set_mount_point(spec.mount_point);
  req.set_mount_type("taskcred");
  req.set_mount_accessor("taskcred_harness");
  req.set_entity_id(spec.entity_id);
  if (spec.secret_internal_data) {
    auto* s = req.mutable_secret();
    s->set_internal_data(spec.secret_internal_data->dump());
    s->set_lease_id(spec.lease_id);
    s->mutable_lease_options()->mutable_issue_time()->set_seconds(static_cast<int64_t>(time(nullptr)));
  }
  req.mutable_connection()->set_remote_addr("127.0.0.1");
  return req;
}
}  // namespace

RequestResult Mount::HandleRequest(const RequestSpec& spec) {
  RequestResult out;
  ::pb::HandleRequestArgs args;
  *args.mutable_request() = BuildRequest(spec);
  grpc::ClientContext ctx;
  Prepare(&ctx, spec.deadline);
  out.status = host_->backend_->HandleRequest(&ctx, args, &out.reply);
  if (!out.status.ok()) {
    out.http_status = 500;
    out.error = "rpc error: code = " + std::to_string(out.status.error_code()) + " desc = " + out.status.error_message();
    return out;
  }
  out.http_status = VaultHttpStatus(out.reply, spec.operation);
  if (out.reply.has_response()) out.data = nlohmann::json::parse(out.reply.response().data(), nullptr, false);
  if (out.data.is_object() && out.data.contains("error") && out.data["error"].is_string()) {
    out.error = out.data["error"].get<std::string>();
  } else if (out.reply.has_err()) {
    out.error = out.reply.err().err_msg();
  }
  return out;
}

Rpc<::pb::HandleExistenceCheckReply> Mount::HandleExistenceCheck(const RequestSpec& spec) {
  Rpc<::pb::HandleExistenceCheckReply> r;
  ::pb::HandleExistenceCheckArgs args;
  *args.mutable_request() = BuildRequest(spec);
  grpc::ClientContext ctx;
  Prepare(&ctx, spec.deadline);
  r.status = host_->backend_->HandleExistenceCheck(&ctx, args, &r.reply);
  return r;
}

Rpc<::pb::Empty> Mount::InvalidateKey(const std::string& key) {
  Rpc<::pb::Empty> r;
  ::pb::InvalidateKeyArgs args;
  args.set_key(key);
  grpc::ClientContext ctx;
  Prepare(&ctx, 10s);
  r.status = host_->backend_->InvalidateKey(&ctx, args, &r.reply);
  return r;
}

Rpc<::pb::Empty> Mount::Cleanup() {
  Rpc<::pb::Empty> r;
  grpc::ClientContext ctx;
  Prepare(&ctx, 10s);
  r.status = host_->backend_->Cleanup(&ctx, {}, &r.reply);
  if (broker_) broker_->Stop();
  return r;
}

Rpc<::logical::VersionReply> Mount::Version() {
  Rpc<::logical::VersionReply> r;
  grpc::ClientContext ctx;
  Prepare(&ctx, 10s);
  r.status = host_->version_->Version(&ctx, {}, &r.reply);
  return r;
}

}  // namespace taskcred::test
