#include "runtime/grpc_clients.h"

#include "runtime/loop.h"
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

// One unary call. On a loop fiber it is started on the loop's own queue and
// the fiber suspends until the answer (no thread is blocked or woken); on a
// plain thread (tests, tools) it is a blocking call.
template <typename Stub, typename Args, typename Reply>
grpc::Status Invoke(Stub& stub,
                    std::unique_ptr<grpc::ClientAsyncResponseReaderInterface<Reply>> (Stub::*async)(
                        grpc::ClientContext*, const Args&, grpc::CompletionQueue*),
                    grpc::Status (Stub::*sync)(grpc::ClientContext*, const Args&, Reply*), grpc::ClientContext* ctx,
                    const Args& args, Reply* reply) {
  if (!EventLoop::OnLoopFiber()) return (stub.*sync)(ctx, args, reply);
  auto reader = (stub.*async)(ctx, args, EventLoop::Current()->cq());
  grpc::Status status;
  Await([&](void* tag) { reader->Finish(reply, &status, tag); });
  return status;
}

using StorageStub = ::pb::Storage::StubInterface;
using SystemViewStub = ::pb::SystemView::StubInterface;

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
  auto s = Invoke(*stub_, &StorageStub::AsyncList, &StorageStub::List, &ctx, args, &reply);
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
  auto s = Invoke(*stub_, &StorageStub::AsyncGet, &StorageStub::Get, &ctx, args, &reply);
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
  auto s = Invoke(*stub_, &StorageStub::AsyncPut, &StorageStub::Put, &ctx, args, &reply);
  if (!s.ok()) return RpcError(s, "storage put");
  return InBand(reply.err(), "storage put");
}

Status GrpcStorage::Delete(std::string_view key) {
  grpc::ClientContext ctx;
  Prepare(ctx, deadline_);
  ::pb::StorageDeleteArgs args;
  args.set_key(SanitizeUtf8(key));
  ::pb::StorageDeleteReply reply;
  auto s = Invoke(*stub_, &StorageStub::AsyncDelete, &StorageStub::Delete, &ctx, args, &reply);
  if (!s.ok()) return RpcError(s, "storage delete");
  return InBand(reply.err(), "storage delete");
}

namespace {
// pb.TTLReply carries nanoseconds; the SystemView speaks whole seconds.
std::chrono::seconds TtlSeconds(const ::pb::TTLReply& r) {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::nanoseconds(r.ttl()));
}

template <typename Reply, typename Args>
Result<Reply> Unary(SystemViewStub& stub, const Deadline& deadline, std::string_view what,
                    std::unique_ptr<grpc::ClientAsyncResponseReaderInterface<Reply>> (SystemViewStub::*async)(
                        grpc::ClientContext*, const Args&, grpc::CompletionQueue*),
                    grpc::Status (SystemViewStub::*sync)(grpc::ClientContext*, const Args&, Reply*),
                    const Args& args = Args()) {
  grpc::ClientContext ctx;
  Prepare(ctx, deadline);
  Reply reply;
  auto s = Invoke(stub, async, sync, &ctx, args, &reply);
  if (!s.ok()) return RpcError(s, what);
  return reply;
}
}  // namespace

Result<std::chrono::seconds> GrpcSystemView::DefaultLeaseTTL() {
  TC_ASSIGN_OR_RETURN(auto r, Unary(*stub_, deadline_, "system view default lease TTL",
                                    &SystemViewStub::AsyncDefaultLeaseTTL, &SystemViewStub::DefaultLeaseTTL));
  return TtlSeconds(r);
}

Result<std::chrono::seconds> GrpcSystemView::MaxLeaseTTL() {
  return max_ttl_->Get([&]() -> Result<std::chrono::seconds> {
    TC_ASSIGN_OR_RETURN(auto r, Unary(*stub_, deadline_, "system view max lease TTL",
                                      &SystemViewStub::AsyncMaxLeaseTTL, &SystemViewStub::MaxLeaseTTL));
    return TtlSeconds(r);
  });
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
  for (Call& c : calls) Prepare(c.ctx, deadline_);
  auto start = [&](grpc::CompletionQueue* cq) {
    calls[0].reader = stub_->AsyncDefaultLeaseTTL(&calls[0].ctx, ::pb::Empty(), cq);
    calls[1].reader = stub_->AsyncMaxLeaseTTL(&calls[1].ctx, ::pb::Empty(), cq);
  };
  if (EventLoop::OnLoopFiber()) {
    // Both in flight on the loop's queue; the fiber resumes when both are in.
    AwaitAll(2, [&](void* tag) {
      start(EventLoop::Current()->cq());
      for (Call& c : calls) c.reader->Finish(&c.reply, &c.status, tag);
    });
  } else {
    grpc::CompletionQueue cq;
    start(&cq);
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
  TC_ASSIGN_OR_RETURN(auto r, Unary(*stub_, deadline_, "system view tainted", &SystemViewStub::AsyncTainted,
                                    &SystemViewStub::Tainted));
  return r.tainted();
}

Result<bool> GrpcSystemView::CachingDisabled() {
  TC_ASSIGN_OR_RETURN(auto r, Unary(*stub_, deadline_, "system view caching disabled",
                                    &SystemViewStub::AsyncCachingDisabled, &SystemViewStub::CachingDisabled));
  return r.disabled();
}

Result<bool> GrpcSystemView::LocalMount() {
  TC_ASSIGN_OR_RETURN(auto r, Unary(*stub_, deadline_, "system view local mount", &SystemViewStub::AsyncLocalMount,
                                    &SystemViewStub::LocalMount));
  return r.local();
}

Result<uint32_t> GrpcSystemView::ReplicationState() {
  TC_ASSIGN_OR_RETURN(auto r, Unary(*stub_, deadline_, "system view replication state",
                                    &SystemViewStub::AsyncReplicationState, &SystemViewStub::ReplicationState));
  return static_cast<uint32_t>(r.state());
}

Result<std::optional<tl::Entity>> GrpcSystemView::EntityInfo(const std::string& entity_id) {
  ::pb::EntityInfoArgs args;
  args.set_entity_id(SanitizeUtf8(entity_id));
  TC_ASSIGN_OR_RETURN(auto r, Unary(*stub_, deadline_, "system view entity info", &SystemViewStub::AsyncEntityInfo,
                                    &SystemViewStub::EntityInfo, args));
  TC_RETURN_IF_ERROR(InBand(r.err(), "system view entity info"));
  if (!r.has_entity()) return std::optional<tl::Entity>();
  return std::optional<tl::Entity>(FromProto(r.entity()));
}

Result<std::vector<tl::Group>> GrpcSystemView::GroupsForEntity(const std::string& entity_id) {
  ::pb::EntityInfoArgs args;
  args.set_entity_id(SanitizeUtf8(entity_id));
  TC_ASSIGN_OR_RETURN(auto r, Unary(*stub_, deadline_, "system view groups for entity",
                                    &SystemViewStub::AsyncGroupsForEntity, &SystemViewStub::GroupsForEntity, args));
  TC_RETURN_IF_ERROR(InBand(r.err(), "system view groups for entity"));
  std::vector<tl::Group> out;
  for (const auto& g : r.groups()) out.push_back(FromProto(g));
  return out;
}

Result<tl::PluginEnvironment> GrpcSystemView::PluginEnv() {
  TC_ASSIGN_OR_RETURN(auto r, Unary(*stub_, deadline_, "system view plugin env", &SystemViewStub::AsyncPluginEnv,
                                    &SystemViewStub::PluginEnv));
  TC_RETURN_IF_ERROR(InBand(r.err(), "system view plugin env"));
  return FromProto(r.plugin_environment());
}

}  // namespace taskcred::runtime
