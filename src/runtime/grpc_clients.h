// GrpcStorage and GrpcSystemView: the host's brokered pb.Storage / pb.SystemView
// services as taskcred::logical::Storage / SystemView.
//
// One pair is built per backend instance over that instance's brokered
// channel (no deadline, for background work); BoundTo() returns cheap
// copies bound to a request's deadline. In-band `err` strings become
// kInternal, transport failures kUnavailable, deadline expiry
// kDeadlineExceeded, each naming the operation. Thread-safe.
//
// Called on a fiber of an EventLoop, a call is started on that loop's queue
// and the fiber suspends until the answer; on any other thread it blocks.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>

#include "logical/storage.h"
#include "logical/system_view.h"
#include "runtime/shared_answer.h"
#include "sdk/plugin/pb/backend.grpc.pb.h"

namespace taskcred::runtime {

using Deadline = std::optional<std::chrono::system_clock::time_point>;

class GrpcStorage : public taskcred::logical::Storage {
 public:
  GrpcStorage(std::shared_ptr<::pb::Storage::StubInterface> stub, Deadline deadline)
      : stub_(std::move(stub)), deadline_(deadline) {}
  explicit GrpcStorage(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(::pb::Storage::NewStub(channel)) {}

  // A view bound to one request's deadline (kept on the request's stack).
  GrpcStorage BoundTo(Deadline deadline) const { return GrpcStorage(stub_, deadline); }

  common::Result<std::vector<std::string>> List(std::string_view prefix) override;
  common::Result<std::optional<taskcred::logical::StorageEntry>> Get(std::string_view key) override;
  common::Status Put(const taskcred::logical::StorageEntry& entry) override;
  common::Status Delete(std::string_view key) override;

 private:
  std::shared_ptr<::pb::Storage::StubInterface> stub_;
  Deadline deadline_;
};

class GrpcSystemView : public taskcred::logical::SystemView {
 public:
  using SharedTtl = SharedAnswer<std::chrono::seconds>;

  GrpcSystemView(std::shared_ptr<::pb::SystemView::StubInterface> stub, Deadline deadline,
                 std::shared_ptr<SharedTtl> max_ttl = std::make_shared<SharedTtl>())
      : stub_(std::move(stub)), deadline_(deadline), max_ttl_(std::move(max_ttl)) {}
  explicit GrpcSystemView(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(::pb::SystemView::NewStub(channel)), max_ttl_(std::make_shared<SharedTtl>()) {}

  // Copies share the stub and the MaxLeaseTTL question.
  GrpcSystemView BoundTo(Deadline deadline) const { return GrpcSystemView(stub_, deadline, max_ttl_); }

  common::Result<std::chrono::seconds> DefaultLeaseTTL() override;
  // Concurrent askers share one call per wave (SharedAnswer): each answer
  // still comes from a call started after its caller asked, so a tune that
  // finished before the question is always seen.
  common::Result<std::chrono::seconds> MaxLeaseTTL() override;
  // MaxLeaseTTL calls this instance and its copies have made.
  uint64_t max_lease_ttl_calls() const { return max_ttl_->calls(); }
  // Both RPCs started together on one completion queue and awaited on the
  // caller's thread: one broker round trip of latency instead of two, and no
  // thread per request.
  common::Result<taskcred::logical::MountLeaseTTLs> LeaseTTLs() override;
  common::Result<bool> Tainted() override;
  common::Result<bool> CachingDisabled() override;
  common::Result<bool> LocalMount() override;
  common::Result<uint32_t> ReplicationState() override;
  common::Result<std::optional<taskcred::logical::Entity>> EntityInfo(const std::string& entity_id) override;
  common::Result<std::vector<taskcred::logical::Group>> GroupsForEntity(const std::string& entity_id) override;
  common::Result<taskcred::logical::PluginEnvironment> PluginEnv() override;

 private:
  std::shared_ptr<::pb::SystemView::StubInterface> stub_;
  Deadline deadline_;
  std::shared_ptr<SharedTtl> max_ttl_;
};

// Maps a failed RPC status to a taskcred Status "<what>: <detail>".
common::Status RpcError(const grpc::Status& status, std::string_view what);

}  // namespace taskcred::runtime
