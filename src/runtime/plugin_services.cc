#include "runtime/plugin_services.h"

#include "goplugin/grpc_broker.grpc.pb.h"
#include "goplugin/grpc_controller.grpc.pb.h"
#include "goplugin/grpc_stdio.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "runtime/async_call.h"
#include "sdk/helper/pluginutil/multiplexing.grpc.pb.h"
#include "sdk/logical/version.grpc.pb.h"

namespace taskcred::runtime {
namespace {

struct BrokerStream {
  grpc::ServerContext ctx;
  grpc::ServerAsyncReaderWriter<::plugin::ConnInfo, ::plugin::ConnInfo> stream{&ctx};
};

struct HealthWatch {
  grpc::ServerContext ctx;
  ::grpc::health::v1::HealthCheckRequest request;
  grpc::ServerAsyncWriter<::grpc::health::v1::HealthCheckResponse> writer{&ctx};
};

struct StdioStream {
  grpc::ServerContext ctx;
  google::protobuf::Empty request;
  grpc::ServerAsyncWriter<::plugin::StdioData> writer{&ctx};
};

}  // namespace

class PluginServices::Impl {
 public:
  explicit Impl(ServerState& st) : st_(st) {}

  ::plugin::GRPCBroker::AsyncService broker;
  ::plugin::GRPCController::AsyncService controller;
  ::plugin::GRPCStdio::AsyncService stdio;
  ::logical::PluginVersion::AsyncService version;
  ::pluginutil::multiplexing::PluginMultiplexing::AsyncService multiplexing;
  ::grpc::health::v1::Health::AsyncService health;

  void ServeOn(EventLoop* loop) {
    // GRPCBroker.StartStream: the host announces brokered endpoints (our
    // Storage/SystemView) for the lifetime of the connection.
    Acceptor<BrokerStream>::Start(
        loop,
        [this](BrokerStream& c, grpc::ServerCompletionQueue* cq, void* tag) {
          broker.RequestStartStream(&c.ctx, &c.stream, cq, cq, tag);
        },
        [this](BrokerStream& c) {
          ::plugin::ConnInfo info;
          while (Await([&](void* tag) { c.stream.Read(&info, tag); })) {
            st_.logger.Trace("broker conn info", {{"service_id", info.service_id()}, {"network", info.network()}});
            st_.broker.Put(info);
          }
          Await([&](void* tag) { c.stream.Finish(grpc::Status::OK, tag); });
        });

    // GRPCStdio.StreamStdio: the plugin writes nothing to it (logs go to
    // stderr, which go-plugin reads); held open until the shutdown, as the
    // host expects a live stream.
    Acceptor<StdioStream>::Start(
        loop,
        [this](StdioStream& c, grpc::ServerCompletionQueue* cq, void* tag) {
          stdio.RequestStreamStdio(&c.ctx, &c.request, &c.writer, cq, cq, tag);
        },
        [this](StdioStream& c) {
          st_.AwaitShutdown();
          Await([&](void* tag) { c.writer.Finish(grpc::Status::OK, tag); });
        });

    auto* ctl = &controller;
    ServeUnary<::plugin::Empty, ::plugin::Empty>(loop, TASKCRED_REQUEST(ctl, Shutdown),
                                                 [this](grpc::ServerContext*, const ::plugin::Empty*, ::plugin::Empty*) {
                                                   st_.RequestShutdown("shutdown requested by the host");
                                                   return grpc::Status::OK;
                                                 });

    auto* ver = &version;
    ServeUnary<::logical::Empty, ::logical::VersionReply>(
        loop, TASKCRED_REQUEST(ver, Version),
        [this](grpc::ServerContext*, const ::logical::Empty*, ::logical::VersionReply* reply) {
          reply->set_plugin_version(st_.opts.version.empty() ? std::string(TASKCRED_RUNTIME_VERSION)
                                                             : st_.opts.version);
          return grpc::Status::OK;
        });

    auto* mux = &multiplexing;
    ServeUnary<::pluginutil::multiplexing::MultiplexingSupportRequest,
               ::pluginutil::multiplexing::MultiplexingSupportResponse>(
        loop, TASKCRED_REQUEST(mux, MultiplexingSupport),
        [this](grpc::ServerContext*, const ::pluginutil::multiplexing::MultiplexingSupportRequest*,
               ::pluginutil::multiplexing::MultiplexingSupportResponse* reply) {
          reply->set_supported(st_.version >= 5);
          return grpc::Status::OK;
        });

    // grpc.health.v1: Check, as go-plugin's client pings it ("plugin"), and
    // Watch (SERVING, then NOT_SERVING when the shutdown starts).
    auto* hc = &health;
    ServeUnary<::grpc::health::v1::HealthCheckRequest, ::grpc::health::v1::HealthCheckResponse>(
        loop, TASKCRED_REQUEST(hc, Check),
        [this](grpc::ServerContext*, const ::grpc::health::v1::HealthCheckRequest* req,
               ::grpc::health::v1::HealthCheckResponse* reply) {
          if (!req->service().empty() && req->service() != "plugin") {
            return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
          }
          reply->set_status(st_.shutting_down() ? ::grpc::health::v1::HealthCheckResponse::NOT_SERVING
                                                : ::grpc::health::v1::HealthCheckResponse::SERVING);
          return grpc::Status::OK;
        });
    Acceptor<HealthWatch>::Start(
        loop,
        [this](HealthWatch& c, grpc::ServerCompletionQueue* cq, void* tag) {
          health.RequestWatch(&c.ctx, &c.request, &c.writer, cq, cq, tag);
        },
        [this](HealthWatch& c) {
          ::grpc::health::v1::HealthCheckResponse status;
          bool known = c.request.service().empty() || c.request.service() == "plugin";
          status.set_status(known ? ::grpc::health::v1::HealthCheckResponse::SERVING
                                  : ::grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN);
          if (Await([&](void* tag) { c.writer.Write(status, tag); })) {
            st_.AwaitShutdown();
            status.set_status(known ? ::grpc::health::v1::HealthCheckResponse::NOT_SERVING
                                    : ::grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN);
            Await([&](void* tag) { c.writer.Write(status, tag); });
          }
          Await([&](void* tag) { c.writer.Finish(grpc::Status::OK, tag); });
        });
  }

 private:
  ServerState& st_;
};

PluginServices::PluginServices(ServerState& st) : impl_(std::make_unique<Impl>(st)) {}
PluginServices::~PluginServices() = default;

std::vector<grpc::Service*> PluginServices::services() {
  return {&impl_->broker, &impl_->controller, &impl_->stdio, &impl_->version, &impl_->multiplexing, &impl_->health};
}

void PluginServices::ServeOn(EventLoop* loop) { impl_->ServeOn(loop); }

}  // namespace taskcred::runtime
