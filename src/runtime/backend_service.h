// BackendService: pb.Backend served on the event loops. One backend instance
// per Setup (keyed by multiplex_id on protocol 5), each with its own brokered
// Storage and SystemView clients; requests run on fibers and call the backend
// with a storage view bound to the request's deadline.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "runtime/loop.h"
#include "runtime/server_state.h"

namespace taskcred::runtime {

class BackendService {
 public:
  explicit BackendService(ServerState& st);
  ~BackendService();

  // The service to register with the server builder.
  grpc::Service* service();
  // Starts serving every method on `loop` (after the server is built).
  void ServeOn(EventLoop* loop);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskcred::runtime
