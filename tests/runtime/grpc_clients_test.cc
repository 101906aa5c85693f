// GrpcStorage / GrpcSystemView against an in-process host: values, absence,
// in-band errors, deadlines and an unreachable host.
#include "runtime/grpc_clients.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "runtime/loop.h"
#include "runtime/test_support.h"

namespace taskcred::runtime {
namespace {

using common::ErrorKind;

// Storage whose keys select a behaviour: "fail" → in-band error, "slow" → sleeps.
class ScriptedStorage final : public ::pb::Storage::Service {
 public:
  grpc::Status Get(grpc::ServerContext* ctx, const ::pb::StorageGetArgs* a, ::pb::StorageGetReply* r) override {
    if (a->key() == "fail") r->set_err("backend exploded");
    if (a->key() == "slow") {
      while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // wait for cancel
    }
    if (a->key() == "present") {
      r->mutable_entry()->set_key("present");
      r->mutable_entry()->set_value(std::string("\x00\xff", 2));
    }
    return grpc::Status::OK;
  }
  grpc::Status Put(grpc::ServerContext*, const ::pb::StoragePutArgs* a, ::pb::StoragePutReply* r) override {
    if (a->entry().key() == "readonly") r->set_err("cannot write to readonly storage");
    return grpc::Status::OK;
  }
};

// SystemView with scripted TTL answers. With `rendezvous`, each TTL question
// is answered only once the other one has arrived too (both in flight at
// once); a client asking one after the other gets ABORTED.
class ScriptedSystemView final : public ::pb::SystemView::Service {
 public:
  bool rendezvous = false;
  bool max_fails = false;
  bool slow = false;

  grpc::Status DefaultLeaseTTL(grpc::ServerContext* ctx, const ::pb::Empty*, ::pb::TTLReply* r) override {
    if (auto s = Arrive(ctx); !s.ok()) return s;
    r->set_ttl(3600LL * 1000000000LL);
    return grpc::Status::OK;
  }
  grpc::Status MaxLeaseTTL(grpc::ServerContext* ctx, const ::pb::Empty*, ::pb::TTLReply* r) override {
    if (auto s = Arrive(ctx); !s.ok()) return s;
    if (max_fails) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "host going away");
    r->set_ttl(86400LL * 1000000000LL);
    return grpc::Status::OK;
  }
  grpc::Status EntityInfo(grpc::ServerContext*, const ::pb::EntityInfoArgs* a, ::pb::EntityInfoReply* r) override {
    if (a->entity_id() == "e1") {
      r->mutable_entity()->set_id("e1");
      r->mutable_entity()->set_name("alice");
    }
    return grpc::Status::OK;
  }
  grpc::Status PluginEnv(grpc::ServerContext*, const ::pb::Empty*, ::pb::PluginEnvReply* r) override {
    r->set_err("no env");
    return grpc::Status::OK;
  }

 private:
  grpc::Status Arrive(grpc::ServerContext* ctx) {
    if (slow) {
      while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // wait for cancel
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    if (!rendezvous) return grpc::Status::OK;
    std::unique_lock lock(mu_);
    ++arrived_;
    cv_.notify_all();
    if (!cv_.wait_for(lock, std::chrono::seconds(5), [&] { return arrived_ >= 2; })) {
      return grpc::Status(grpc::StatusCode::ABORTED, "the other TTL question never arrived");
    }
    return grpc::Status::OK;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
};

class GrpcClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.RegisterService(&storage_);
    b.RegisterService(&system_view_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  ScriptedStorage storage_;
  ScriptedSystemView system_view_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(GrpcClientsTest, StorageGet) {
  GrpcStorage s(channel_);
  auto present = s.Get("present");
  ASSERT_TRUE(present.ok());
  ASSERT_TRUE(present->has_value());
  EXPECT_EQ((*present)->value, std::string("\x00\xff", 2));
  auto absent = s.Get("absent");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  auto failed = s.Get("fail");
  EXPECT_EQ(failed.status().kind(), ErrorKind::kInternal);
  EXPECT_EQ(failed.status().message(), "storage get: backend exploded");
  EXPECT_EQ(s.Put({"readonly", "v", false}).kind(), ErrorKind::kInternal);
  EXPECT_TRUE(s.Put({"k", "v", false}).ok());
}

TEST_F(GrpcClientsTest, StorageDeadline) {
  auto s = GrpcStorage(channel_).BoundTo(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  auto slow = s.Get("slow");
  EXPECT_EQ(slow.status().kind(), ErrorKind::kDeadlineExceeded);
  EXPECT_NE(slow.status().message().find("storage get"), std::string::npos);
}

TEST_F(GrpcClientsTest, SystemView) {
  GrpcSystemView sv(channel_);
  auto ttl = sv.DefaultLeaseTTL();
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(*ttl, std::chrono::hours(1));
  auto e = sv.EntityInfo("e1");
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(e->has_value());
  EXPECT_EQ((*e)->name, "alice");
  auto none = sv.EntityInfo("nobody");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(sv.PluginEnv().status().kind(), ErrorKind::kInternal);
  // Not served by this host: the RPC error is mapped, never a crash.
  EXPECT_FALSE(sv.Tainted().ok());
}

TEST_F(GrpcClientsTest, LeaseTTLsAsksBothQuestionsAtOnce) {
  system_view_.rendezvous = true;
  GrpcSystemView sv(channel_);
  auto ttls = sv.LeaseTTLs();
  ASSERT_TRUE(ttls.ok()) << ttls.status().ToString();
  EXPECT_EQ(ttls->default_ttl, std::chrono::hours(1));
  EXPECT_EQ(ttls->max_ttl, std::chrono::hours(24));
}

TEST_F(GrpcClientsTest, LeaseTTLsNamesTheFailedQuestion) {
  system_view_.max_fails = true;
  GrpcSystemView sv(channel_);
  auto ttls = sv.LeaseTTLs();
  ASSERT_FALSE(ttls.ok());
  EXPECT_EQ(ttls.status().kind(), ErrorKind::kUnavailable);
  EXPECT_NE(ttls.status().message().find("system view max lease TTL: host going away"), std::string::npos)
      << ttls.status().message();
}

TEST_F(GrpcClientsTest, LeaseTTLsHonoursTheDeadline) {
  system_view_.slow = true;
  auto sv = GrpcSystemView(channel_).BoundTo(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  auto start = std::chrono::steady_clock::now();
  auto ttls = sv.LeaseTTLs();
  ASSERT_FALSE(ttls.ok());
  EXPECT_EQ(ttls.status().kind(), ErrorKind::kDeadlineExceeded);
  EXPECT_NE(ttls.status().message().find("lease TTL"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // not waiting for the host
}

// MaxLeaseTTL answering what the host knew when each call arrived; the first
// call is held until Release(), so a test can change the answer (a tune)
// while that call is in flight.
class HeldMaxTtl final : public ::pb::SystemView::Service {
 public:
  std::atomic<int64_t> ttl_ns{86400LL * 1000000000LL};
  std::atomic<int> calls{0};

  grpc::Status MaxLeaseTTL(grpc::ServerContext*, const ::pb::Empty*, ::pb::TTLReply* r) override {
    const int64_t known = ttl_ns.load();
    if (++calls == 1) {
      std::unique_lock lock(mu_);
      first_arrived_ = true;
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::seconds(10), [&] { return released_; });
    }
    r->set_ttl(known);
    return grpc::Status::OK;
  }
  bool WaitForFirst() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return first_arrived_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool first_arrived_ = false, released_ = false;
};

// The host's services and an EventLoop on its own thread whose fibers call
// them over an in-process channel.
class SharedMaxTtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.RegisterService(&host_);
    loop_ = std::make_unique<EventLoop>(b.AddCompletionQueue());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
    thread_ = std::thread([this] { loop_->Run(); });
  }
  void TearDown() override {
    host_.Release();
    server_->Shutdown(std::chrono::system_clock::now());
    loop_->Shutdown();
    thread_.join();
  }
  // Starts MaxLeaseTTL on a loop fiber; the future holds its answer.
  std::future<common::Result<std::chrono::seconds>> Ask(GrpcSystemView& sv) {
    auto p = std::make_shared<std::promise<common::Result<std::chrono::seconds>>>();
    auto f = p->get_future();
    loop_->Post([p, &sv] { p->set_value(sv.MaxLeaseTTL()); });
    return f;
  }
  // Returns once every fiber posted before it has run up to its first wait.
  void Drain() {
    std::promise<void> done;
    auto f = done.get_future();
    loop_->Post([&] { done.set_value(); });
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  }

  HeldMaxTtl host_;
  std::vector<std::shared_ptr<GrpcSystemView>> bound_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::thread thread_;
};

TEST_F(SharedMaxTtlTest, AWaveSharesOneCallStartedAfterItArrived) {
  GrpcSystemView sv(channel_);
  auto first = Ask(sv);
  ASSERT_TRUE(host_.WaitForFirst());
  // A tune lands while the first call is in flight; everyone who asks from
  // now on must see it, so none of them may take the first call's answer.
  host_.ttl_ns = 3600LL * 1000000000LL;
  std::vector<std::future<common::Result<std::chrono::seconds>>> wave;
  for (int i = 0; i < 5; ++i) {
    auto bound = std::make_shared<GrpcSystemView>(sv.BoundTo(std::chrono::system_clock::now() + std::chrono::seconds(20)));
    wave.push_back(Ask(*bound));
    bound_.push_back(bound);
  }
  Drain();
  host_.Release();
  ASSERT_EQ(first.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto a = first.get();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, std::chrono::hours(24));
  for (auto& f : wave) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, std::chrono::hours(1));
  }
  EXPECT_EQ(host_.calls.load(), 2);  // one for the first caller, one for the wave of five
  EXPECT_EQ(sv.max_lease_ttl_calls(), 2u);
}

TEST_F(SharedMaxTtlTest, ALoneCallerAsksEveryTime) {
  host_.Release();
  GrpcSystemView sv(channel_);
  for (int64_t hours : {24, 2, 5}) {
    host_.ttl_ns = hours * 3600LL * 1000000000LL;
    auto r = Ask(sv);
    ASSERT_EQ(r.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    auto v = r.get();
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(*v, std::chrono::hours(hours));
  }
  EXPECT_EQ(host_.calls.load(), 3);
}

TEST(GrpcClientsUnreachableTest, HostGoneIsUnavailable) {
  auto ch = grpc::CreateChannel("unix:/nonexistent/taskcred-broker", grpc::InsecureChannelCredentials());
  GrpcStorage s(ch);
  auto r = s.BoundTo(std::chrono::system_clock::now() + std::chrono::seconds(5)).List("");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnavailable);
  EXPECT_NE(r.status().message().find("storage list"), std::string::npos);
}

}  // namespace
}  // namespace taskcred::runtime
