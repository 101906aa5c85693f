// The taskcred engine: task-scoped credentials as a Vault secrets engine.
//
// Factory() is what plugin/main.cc hands to runtime::Serve: each call of the
// returned factory builds one framework::Backend (one mount) with its own
// services and caches. The engine keeps no state outside Vault storage except
// caches, which InvalidateKey drops. See docs/engine.md for paths and rules.
#pragma once

#include <memory>

#include "common/status.h"
#include "engine/clock.h"
#include "framework/backend.h"
#include "logical/backend.h"

namespace taskcred::engine {

struct EngineOptions {
  Clock clock = SystemClock();  // tests inject a fake clock
};

// The factory Vault's plugin runtime calls once per mount.
logical::BackendFactory Factory();
logical::BackendFactory Factory(EngineOptions options);

// Builds one backend directly (tests). Never touches storage.
common::Result<std::unique_ptr<framework::Backend>> NewBackend(const logical::BackendConfig& config,
                                                               EngineOptions options = {});

}  // namespace taskcred::engine
