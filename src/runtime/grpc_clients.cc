#include "runtime/grpc_clients.h"

#include "runtime/translate.h"

namespace taskcred::runtime {
namespace {

using common::Result;
using common::Status;
namespace tl = taskcred::logical;

void Prepare(grpc::ClientContext& ctx, const Deadline& deadline) {
  if (deadline) ctx.set_deadline(*deadline);
}

Status InBand(const std::string& err, std::string_view what) {
  if (err.empty()) return Status::Ok();
  return Status::Internal(std::string(what) + ": " + err);
}

}  // namespace

Status RpcError(const grpc::Status& status, std::string_view what) {
  std::string msg = std::string(what) + ": " + status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED: return Status::DeadlineExceeded(msg + " (request deadline exceeded)");
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED: return Status::Unavailable(msg + " (host unreachable)");
    case grpc::StatusCode::INVALID_ARGUMENT: return Status::InvalidArgument(msg);
    default: return Status::Internal(msg);
  }
}

Result<std::vector<std::string>> GrpcStorage::List(std::string_view prefix) {
  grpc::ClientContext ctx;
  Prepare(ctx, deadline_);
  ::pb::StorageListArgs args;
  args.set_prefix(SanitizeUtf8(prefix));
  ::pb::StorageListReply reply;
  auto s = stub_->List(&ctx, args, &reply);
  if (!s.ok()) return RpcError(s, "storage list");
  TC_RETURN_IF_ERROR(InBand(reply.err(), "storage list"));
  return std::vector<std::string>(reply.keys().begin(), reply.keys().end());
}

Result<std::optional<tl::StorageEntry>> GrpcStorage::Get(std::string_view key) {
  grpc::ClientContext ctx;
  Prepare(ctx, deadline_);
  ::pb::StorageGetArgs args;
  args.set_key(SanitizeUtf8(key));
  ::pb::StorageGetReply reply;
  auto s = stub_->Get(&ctx, args, &reply);
  if (!s.ok()) return RpcError(s, "storage get");
  TC_RETURN_IF_ERROR(InBand(reply.err(), "storage get"));
  if (!reply.has_entry()) return std::optional<tl::StorageEntry>();
  return std::optional<tl::StorageEntry>(
      tl::StorageEntry{reply.entry().key(), reply.entry().value(), reply.entry().seal_wrap()});
}

Status GrpcStorage::Put(const tl::StorageEntry& entry) {
  grpc::ClientContext ctx;
  Prepare(ctx, deadline_);
  ::pb::StoragePutArgs args;
  args.mutable_entry()->set_key(SanitizeUtf8(entry.key));
  args.mutable_entry()->set_value(entry.value);
  args.mutable_entry()->set_seal_wrap(entry.seal_wrap);
  ::pb::StoragePutReply reply;
  auto s = stub_->Put(&ctx, args, &reply);
  if (!s.ok()) return RpcError(s, "storage put");
  return InBand(reply.err(), "storage put");
}

Status GrpcStorage::Delete(std::string_view key) {
  grpc::ClientContext ctx;
  Prepare(ctx, deadline_);
  ::pb::StorageDeleteArgs args;
  args.set_key(SanitizeUtf8(key));
  ::pb::StorageDeleteReply reply;
  auto s = stub_->Delete(&ctx, args, &reply);
  if (!s.ok()) return RpcError(s, "storage delete");
  return InBand(reply.err(), "storage delete");
}

namespace {
// pb.TTLReply carries nanoseconds; the SystemView speaks whole seconds.
std::chrono::seconds TtlSeconds(const ::pb::TTLReply& r) {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::nanoseconds(r.ttl()));
}

template <typename Reply, typename Call>
Result<Reply> Unary(const Deadline& deadline, std::string_view what, Call call) {
  grpc::ClientContext ctx;
  Prepare(ctx, deadline);
  Reply reply;
  auto s = call(&ctx, &reply);
  if (!s.ok()) return RpcError(s, what);
  return reply;
}
}  // namespace

Result<std::chrono::seconds> GrpcSystemView::DefaultLeaseTTL() {
  TC_ASSIGN_OR_RETURN(auto r, Unary<::pb::TTLReply>(deadline_, "system view default lease TTL", [&](auto* c, auto* o) {
                        return stub_->DefaultLeaseTTL(c, ::pb::Empty(), o);
                      }));
  return TtlSeconds(r);
}

Result<std::chrono::seconds> GrpcSystemView::MaxLeaseTTL() {
  TC_ASSIGN_OR_RETURN(auto r, Unary<::pb::TTLReply>(deadline_, "system view max lease TTL", [&](auto* c, auto* o) {
                        return stub_->MaxLeaseTTL(c, ::pb::Empty(), o);
                      }));
  return TtlSeconds(r);
}

Result<tl::MountLeaseTTLs> GrpcSystemView::LeaseTTLs() {
  struct Call {
    std::string_view what;
    grpc::ClientContext ctx;
    ::pb::TTLReply reply;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReaderInterface<::pb::TTLReply>> reader;
  };
  Call calls[2];
  calls[0].what = "system view default lease TTL";
  calls[1].what = "system view max lease TTL";
  grpc::CompletionQueue cq;
  for (Call& c : calls) Prepare(c.ctx, deadline_);
  calls[0].reader = stub_->AsyncDefaultLeaseTTL(&calls[0].ctx, ::pb::Empty(), &cq);
  calls[1].reader = stub_->AsyncMaxLeaseTTL(&calls[1].ctx, ::pb::Empty(), &cq);
  for (Call& c : calls) c.reader->Finish(&c.reply, &c.status, &c);
  // Each Finish yields exactly one event (also on deadline or a lost host,
  // with the status set), so two Next calls collect both.
  void* tag = nullptr;
  bool ok = false;
  for (int pending = 2; pending > 0 && cq.Next(&tag, &ok); --pending) {
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  tl::MountLeaseTTLs out;
  std::chrono::seconds* targets[2] = {&out.default_ttl, &out.max_ttl};
  for (int i = 0; i < 2; ++i) {
    if (!calls[i].status.ok()) return RpcError(calls[i].status, calls[i].what);
    *targets[i] = TtlSeconds(calls[i].reply);
  }
  return out;
}

Result<bool> GrpcSystemView::Tainted() {
  TC_ASSIGN_OR_RETURN(auto r, Unary<::pb::TaintedReply>(deadline_, "system view tainted", [&](auto* c, auto* o) {
                        return stub_->Tainted(c, ::pb::Empty(), o);
                      }));
  return r.tainted();
}

Result<bool> GrpcSystemView::CachingDisabled() {
  TC_ASSIGN_OR_RETURN(auto r, Unary<::pb::CachingDisabledReply>(deadline_, "system view caching disabled",
                                                                 [&](auto* c, auto* o) {
                                                                   return stub_->CachingDisabled(c, ::pb::Empty(), o);
                                                                 }));
  return r.disabled();
}

Result<bool> GrpcSystemView::LocalMount() {
  TC_ASSIGN_OR_RETURN(auto r, Unary<::pb::LocalMountReply>(deadline_, "system view local mount",
                                                            [&](auto* c, auto* o) {
                                                              return stub_->LocalMount(c, ::pb::Empty(), o);
                                                            }));
  return r.local();
}

Result<uint32_t> GrpcSystemView::ReplicationState() {
  TC_ASSIGN_OR_RETURN(auto r, Unary<::pb::ReplicationStateReply>(deadline_, "system view replication state",
                                                                  [&](auto* c, auto* o) {
                                                                    return stub_->ReplicationState(c, ::pb::Empty(), o);
                                                                  }));
  return static_cast<uint32_t>(r.state());
}

Result<std::optional<tl::Entity>> GrpcSystemView::EntityInfo(const std::string& entity_id) {
  ::pb::EntityInfoArgs args;
  args.set_entity_id(SanitizeUtf8(entity_id));
  TC_ASSIGN_OR_RETURN(auto r, Unary<::pb::EntityInfoReply>(deadline_, "system view entity info",
                                                            [&](auto* c, auto* o) {
                                                              return stub_->EntityInfo(c, args, o);
                                                            }));
  TC_RETURN_IF_ERROR(InBand(r.err(), "system view entity info"));
  if (!r.has_entity()) return std::optional<tl::Entity>();
  return std::optional<tl::Entity>(FromProto(r.entity()));
}

Result<std::vector<tl::Group>> GrpcSystemView::GroupsForEntity(const std::string& entity_id) {
  ::pb::EntityInfoArgs args;
  args.set_entity_id(SanitizeUtf8(entity_id));
  TC_ASSIGN_OR_RETURN(auto r, Unary<::pb::GroupsForEntityReply>(deadline_, "system view groups for entity",
                                                                 [&](auto* c, auto* o) {
                                                                   return stub_->GroupsForEntity(c, args, o);
                                                                 }));
  TC_RETURN_IF_ERROR(InBand(r.err(), "system view groups for entity"));
  std::vector<tl::Group> out;
  for (const auto& g : r.groups()) out.push_back(FromProto(g));
  return out;
}

Result<tl::PluginEnvironment> GrpcSystemView::PluginEnv() {
  TC_ASSIGN_OR_RETURN(auto r, Unary<::pb::PluginEnvReply>(deadline_, "system view plugin env", [&](auto* c, auto* o) {
                        return stub_->PluginEnv(c, ::pb::Empty(), o);
                      }));
  TC_RETURN_IF_ERROR(InBand(r.err(), "system view plugin env"));
  return FromProto(r.plugin_environment());
}

}  // namespace taskcred::runtime
