// Serving a gRPC method on an EventLoop: one call of the method is always
// requested on the loop's queue; each call that arrives runs on a fiber of
// its own, and a new one is requested at once (no limit of concurrency but
// the host's). Used by every service the plugin serves.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <utility>

#include "runtime/loop.h"

namespace taskcred::runtime {

// `request(call, cq, tag)` asks gRPC for the next call (the generated
// Request<Method>); `serve(call)` runs on a fiber and must complete the call
// (Finish) before it returns. Lives until the server shuts down.
template <typename Call>
class Acceptor final : public Completion {
 public:
  using RequestFn = std::function<void(Call&, grpc::ServerCompletionQueue*, void*)>;
  using ServeFn = std::function<void(Call&)>;

  static void Start(EventLoop* loop, RequestFn request, ServeFn serve) {
    (new Acceptor(loop, std::move(request), std::make_shared<const ServeFn>(std::move(serve))))->Arm();
  }

  void Done(bool ok) override {
    if (!ok) {  // the server is shutting down: no more calls of this method
      delete this;
      return;
    }
    std::shared_ptr<Call> call = std::move(call_);
    Arm();
    loop_->Spawn([call, serve = serve_] { (*serve)(*call); });
  }

 private:
  Acceptor(EventLoop* loop, RequestFn request, std::shared_ptr<const ServeFn> serve)
      : loop_(loop), request_(std::move(request)), serve_(std::move(serve)) {}
  ~Acceptor() = default;

  void Arm() {
    call_ = std::make_shared<Call>();
    request_(*call_, loop_->cq(), tag());
  }

  EventLoop* loop_;
  RequestFn request_;
  std::shared_ptr<const ServeFn> serve_;
  std::shared_ptr<Call> call_;
};

template <typename Req, typename Resp>
struct UnaryCall {
  grpc::ServerContext ctx;
  Req request;
  grpc::ServerAsyncResponseWriter<Resp> writer{&ctx};
};

// A unary method: `handler(ctx, request, reply)` runs on the call's fiber;
// it may consume `request` (a raw method releases the received bytes early).
// `request(ctx, req, writer, cq, tag)` is the generated Request<Method>.
template <typename Req, typename Resp>
void ServeUnary(EventLoop* loop,
                std::function<void(grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*,
                                   grpc::ServerCompletionQueue*, void*)>
                    request,
                std::function<grpc::Status(grpc::ServerContext*, Req*, Resp*)> handler) {
  using Call = UnaryCall<Req, Resp>;
  Acceptor<Call>::Start(
      loop, [request](Call& c, grpc::ServerCompletionQueue* cq, void* tag) { request(&c.ctx, &c.request, &c.writer, cq, tag); },
      [handler](Call& c) {
        Resp reply;
        grpc::Status status = handler(&c.ctx, &c.request, &reply);
        Await([&](void* tag) {
          if (status.ok()) {
            c.writer.Finish(reply, status, tag);
          } else {
            c.writer.FinishWithError(status, tag);
          }
        });
      });
}

// Binds a generated AsyncService's Request<Method> for ServeUnary.
#define TASKCRED_REQUEST(service, Method)                                                             \
  [service](auto* ctx, auto* req, auto* writer, grpc::ServerCompletionQueue* cq, void* tag) {          \
    (service)->Request##Method(ctx, req, writer, cq, cq, tag);                                         \
  }

}  // namespace taskcred::runtime
