// The services go-plugin and Vault expect beside pb.Backend, served on the
// event loops: GRPCBroker (the host's ConnInfos, into ServerState::broker),
// GRPCController (Shutdown), GRPCStdio (held open until shutdown),
// logical.PluginVersion, pluginutil.multiplexing.PluginMultiplexing and
// grpc.health.v1.Health ("plugin" and "" are SERVING).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <vector>

#include "runtime/loop.h"
#include "runtime/server_state.h"

namespace taskcred::runtime {

class PluginServices {
 public:
  explicit PluginServices(ServerState& st);
  ~PluginServices();

  std::vector<grpc::Service*> services();
  void ServeOn(EventLoop* loop);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskcred::runtime
