#include "harness/host_services.h"

#include <stdlib.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <set>
#include <thread>

#include "sdk/plugin/pb/backend.grpc.pb.h"

namespace taskcred::test {
namespace {

using common::Result;
using common::Status;

}  // namespace

std::optional<FakeStorage::Entry> FakeStorage::Get(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

void FakeStorage::Put(const std::string& key, Entry entry) {
  std::lock_guard<std::mutex> lock(mu_);
  data_[key] = std::move(entry);
}

void FakeStorage::HoldPuts(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  held_key_ = key;
}

bool FakeStorage::WaitForHeldPut(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return gate_cv_.wait_for(lock, timeout, [&] { return held_waiting_ > 0; });
}

void FakeStorage::ReleaseHeldPuts() {
  std::lock_guard<std::mutex> lock(mu_);
  held_key_.reset();
  gate_cv_.notify_all();
}

void FakeStorage::PassPutGate(const std::string& key) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!held_key_ || *held_key_ != key) return;
  ++held_waiting_;
  gate_cv_.notify_all();
  gate_cv_.wait(lock, [&] { return !held_key_ || *held_key_ != key; });
  --held_waiting_;
}

void FakeStorage::Delete(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  data_.erase(key);
}

std::vector<std::string> FakeStorage::List(const std::string& prefix) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> out;
  for (auto it = data_.lower_bound(prefix); it != data_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    std::string rest = it->first.substr(prefix.size());
    size_t slash = rest.find('/');
    out.insert(slash == std::string::npos ? rest : rest.substr(0, slash + 1));
  }
  return {out.begin(), out.end()};
}

std::map<std::string, FakeStorage::Entry> FakeStorage::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_;
}

size_t FakeStorage::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_.size();
}

void FakeStorage::FailGets(int n, std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_['g'] = {n, std::move(message)};
}
void FakeStorage::FailPuts(int n, std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_['p'] = {n, std::move(message)};
  nth_put_left_ = 0;
}
void FakeStorage::FailNthPut(int n, std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase('p');
  nth_put_left_ = n;
  nth_put_message_ = std::move(message);
  nth_put_failed_ = false;
}
bool FakeStorage::nth_put_failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nth_put_failed_;
}
void FakeStorage::FailLists(int n, std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_['l'] = {n, std::move(message)};
}
void FakeStorage::FailDeletes(int n, std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_['d'] = {n, std::move(message)};
}

void FakeStorage::SetDelay(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(mu_);
  delay_ = delay;
}

std::chrono::milliseconds FakeStorage::delay() const {
  std::lock_guard<std::mutex> lock(mu_);
  return delay_;
}

std::optional<std::chrono::milliseconds> FakeStorage::last_deadline() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_deadline_;
}

void FakeStorage::RecordDeadline(std::chrono::milliseconds left) {
  std::lock_guard<std::mutex> lock(mu_);
  last_deadline_ = left;
}

std::optional<std::string> FakeStorage::TakeFailure(char op) {
  std::lock_guard<std::mutex> lock(mu_);
  if (op == 'p' && nth_put_left_ > 0 && --nth_put_left_ == 0) {
    nth_put_failed_ = true;
    return nth_put_message_;
  }
  auto it = failures_.find(op);
  if (it == failures_.end() || it->second.first <= 0) return std::nullopt;
  --it->second.first;
  return it->second.second;
}

void FakeStorage::Count(char op) {
  switch (op) {
    case 'g': ++gets_; break;
    case 'p': ++puts_; break;
    case 'l': ++lists_; break;
    default: ++deletes_; break;
  }
}

SystemViewConfig FakeSystemView::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

void FakeSystemView::Set(SystemViewConfig config) {
  std::lock_guard<std::mutex> lock(mu_);
  config_ = std::move(config);
}

struct BrokerServer::Services {
  class Storage final : public ::pb::Storage::Service {
   public:
    explicit Storage(std::shared_ptr<FakeStorage> s) : s_(std::move(s)) {}

    grpc::Status List(grpc::ServerContext* ctx, const ::pb::StorageListArgs* req, ::pb::StorageListReply* rep) override {
      if (auto err = Begin(ctx, 'l')) {
        rep->set_err(*err);
        return grpc::Status::OK;
      }
      for (auto& k : s_->List(req->prefix())) rep->add_keys(k);
      return grpc::Status::OK;
    }
    grpc::Status Get(grpc::ServerContext* ctx, const ::pb::StorageGetArgs* req, ::pb::StorageGetReply* rep) override {
      if (auto err = Begin(ctx, 'g')) {
        rep->set_err(*err);
        return grpc::Status::OK;
      }
      if (auto e = s_->Get(req->key())) {
        rep->mutable_entry()->set_key(req->key());
        rep->mutable_entry()->set_value(e->value);
        rep->mutable_entry()->set_seal_wrap(e->seal_wrap);
      }
      return grpc::Status::OK;
    }
    grpc::Status Put(grpc::ServerContext* ctx, const ::pb::StoragePutArgs* req, ::pb::StoragePutReply* rep) override {
      if (auto err = Begin(ctx, 'p')) {
        rep->set_err(*err);
        return grpc::Status::OK;
      }
      if (req->entry().key().find("..") != std::string::npos) {
        rep->set_err("key '" + req->entry().key() + "' contains '..'");
        return grpc::Status::OK;
      }
      s_->PassPutGate(req->entry().key());
      s_->Put(req->entry().key(), {req->entry().value(), req->entry().seal_wrap()});
      return grpc::Status::OK;
    }
    grpc::Status Delete(grpc::ServerContext* ctx, const ::pb::StorageDeleteArgs* req, ::pb::StorageDeleteReply* rep) override {
      if (auto err = Begin(ctx, 'd')) {
        rep->set_err(*err);
        return grpc::Status::OK;
      }
      s_->Delete(req->key());
      return grpc::Status::OK;
    }

   private:
    std::optional<std::string> Begin(grpc::ServerContext* ctx, char op) {
      s_->Count(op);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(ctx->deadline() - std::chrono::system_clock::now());
      s_->RecordDeadline(std::min(left, std::chrono::milliseconds(std::chrono::hours(24 * 365))));
      auto d = s_->delay();
      if (d.count() > 0) std::this_thread::sleep_for(d);  // injected latency, not synchronisation
      return s_->TakeFailure(op);
    }
    std::shared_ptr<FakeStorage> s_;
  };

  class SystemView final : public ::pb::SystemView::Service {
   public:
    explicit SystemView(std::shared_ptr<FakeSystemView> v) : v_(std::move(v)) {}

    grpc::Status DefaultLeaseTTL(grpc::ServerContext*, const ::pb::Empty*, ::pb::TTLReply* rep) override {
      rep->set_ttl(C().default_lease_ttl_ns);
      return grpc::Status::OK;
    }
    grpc::Status MaxLeaseTTL(grpc::ServerContext*, const ::pb::Empty*, ::pb::TTLReply* rep) override {
      rep->set_ttl(C().max_lease_ttl_ns);
      return grpc::Status::OK;
    }
    grpc::Status Tainted(grpc::ServerContext*, const ::pb::Empty*, ::pb::TaintedReply* rep) override {
      rep->set_tainted(C().tainted);
      return grpc::Status::OK;
    }
    grpc::Status CachingDisabled(grpc::ServerContext*, const ::pb::Empty*, ::pb::CachingDisabledReply* rep) override {
      rep->set_disabled(C().caching_disabled);
      return grpc::Status::OK;
    }
    grpc::Status ReplicationState(grpc::ServerContext*, const ::pb::Empty*, ::pb::ReplicationStateReply* rep) override {
      rep->set_state(C().replication_state);
      return grpc::Status::OK;
    }
    grpc::Status ResponseWrapData(grpc::ServerContext*, const ::pb::ResponseWrapDataArgs* req,
                                  ::pb::ResponseWrapDataReply* rep) override {
      (void)C();
      rep->mutable_wrap_info()->set_ttl(req->ttl());
      rep->mutable_wrap_info()->set_token("hvs.harness-wrapping-token");
      rep->mutable_wrap_info()->mutable_creation_time()->set_seconds(static_cast<int64_t>(time(nullptr)));
      return grpc::Status::OK;
    }
    grpc::Status MlockEnabled(grpc::ServerContext*, const ::pb::Empty*, ::pb::MlockEnabledReply* rep) override {
      rep->set_enabled(C().mlock_enabled);
      return grpc::Status::OK;
    }
    grpc::Status LocalMount(grpc::ServerContext*, const ::pb::Empty*, ::pb::LocalMountReply* rep) override {
      rep->set_local(C().local_mount);
      return grpc::Status::OK;
    }
    grpc::Status EntityInfo(grpc::ServerContext*, const ::pb::EntityInfoArgs* req, ::pb::EntityInfoReply* rep) override {
      SystemViewConfig c = C();
      if (auto it = c.entities.find(req->entity_id()); it != c.entities.end()) *rep->mutable_entity() = it->second;
      return grpc::Status::OK;
    }
    grpc::Status GroupsForEntity(grpc::ServerContext*, const ::pb::EntityInfoArgs* req,
                                 ::pb::GroupsForEntityReply* rep) override {
      SystemViewConfig c = C();
      if (auto it = c.groups.find(req->entity_id()); it != c.groups.end()) {
        for (const auto& g : it->second) *rep->add_groups() = g;
      }
      return grpc::Status::OK;
    }
    grpc::Status PluginEnv(grpc::ServerContext*, const ::pb::Empty*, ::pb::PluginEnvReply* rep) override {
      *rep->mutable_plugin_environment() = C().plugin_env;
      return grpc::Status::OK;
    }
    grpc::Status GeneratePasswordFromPolicy(grpc::ServerContext*, const ::pb::GeneratePasswordFromPolicyRequest* req,
                                            ::pb::GeneratePasswordFromPolicyReply* rep) override {
      (void)C();
      if (req->policy_name().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "missing policy name"};
      rep->set_password("harness-password-" + req->policy_name());
      return grpc::Status::OK;
    }
    grpc::Status ClusterInfo(grpc::ServerContext*, const ::pb::Empty*, ::pb::ClusterInfoReply* rep) override {
      SystemViewConfig c = C();
      rep->set_cluster_name(c.cluster_name);
      rep->set_cluster_id(c.cluster_id);
      return grpc::Status::OK;
    }

   private:
    SystemViewConfig C() {
      v_->Count();
      return v_->Get();
    }
    std::shared_ptr<FakeSystemView> v_;
  };

  Services(std::shared_ptr<FakeStorage> s, std::shared_ptr<FakeSystemView> v) : storage(std::move(s)), system(std::move(v)) {}
  Storage storage;
  SystemView system;
};

Result<std::unique_ptr<BrokerServer>> BrokerServer::Start(std::shared_ptr<FakeStorage> storage,
                                                          std::shared_ptr<FakeSystemView> system_view,
                                                          const HostTls& tls) {
  std::unique_ptr<BrokerServer> b(new BrokerServer());
  char tmpl[] = "/tmp/tc-broker-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::Internal("mkdtemp for the broker socket failed");
  b->dir_ = tmpl;
  b->socket_path_ = b->dir_ + "/broker.sock";
  b->services_ = std::make_unique<Services>(std::move(storage), std::move(system_view));

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (tls.enabled) {
    grpc::SslServerCredentialsOptions opts(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    opts.pem_root_certs = tls.peer_root_pem;
    opts.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
    creds = grpc::SslServerCredentials(opts);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + b->socket_path_, creds);
  builder.SetMaxReceiveMessageSize(INT_MAX);
  builder.SetMaxSendMessageSize(INT_MAX);
  builder.RegisterService(&b->services_->storage);
  builder.RegisterService(&b->services_->system);
  b->server_ = builder.BuildAndStart();
  if (!b->server_) return Status::Internal("broker server failed to start on " + b->socket_path_);
  return b;
}

void BrokerServer::Stop() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    server_.reset();
  }
}

BrokerServer::~BrokerServer() {
  Stop();
  if (!socket_path_.empty()) unlink(socket_path_.c_str());
  if (!dir_.empty()) rmdir(dir_.c_str());
}

}  // namespace taskcred::test
