// ServerState: what the services of one plugin process share.
#pragma once

#include <pthread.h>

#include <csignal>

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "logical/backend.h"
#include "runtime/broker.h"
#include "runtime/loop.h"
#include "runtime/serve.h"
#include "runtime/tls.h"

namespace taskcred::runtime {

struct ServerState {
  common::Logger logger;
  ServeOptions opts;
  taskcred::logical::BackendFactory factory;
  int version = 4;
  TlsMode mode = TlsMode::kPlaintext;
  TlsMaterial tls;
  Broker broker;
  pthread_t main_thread{};  // waits for the shutdown signal (serve.cc)
  bool memory_locked = false;  // mlockall succeeded (VAULT_PLUGIN_MLOCK_ENABLED)

  bool shutting_down() const { return shutting_down_.load(std::memory_order_acquire); }

  // Starts the shutdown once: wakes the main thread (which stops the server)
  // and every fiber waiting for the shutdown.
  void RequestShutdown(std::string_view why);

  // On a loop fiber: suspends until the shutdown starts.
  void AwaitShutdown();

 private:
  std::atomic<bool> shutting_down_{false};
  std::mutex mu_;
  std::vector<Sleeper*> shutdown_waiters_;
};

// The signal the main thread waits for besides SIGTERM (sent by
// RequestShutdown to the main thread only).
inline constexpr int kShutdownSignal = SIGUSR1;

}  // namespace taskcred::runtime
