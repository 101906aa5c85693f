#!/usr/bin/env bash
# Fails if a layer includes headers it must not see (docs/architecture.md).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() {  # check <dir> <forbidden include regex> <why>
  local dir=$1 re=$2 why=$3
  [[ -d $dir ]] || return 0
  if grep -rnE "^\s*#\s*include\s*[<\"]($re)" "$dir"; then
    echo "check_layers: $dir must not include $re ($why)" >&2
    fail=1
  fi
}
check src/engine 'grpc|grpcpp|google/protobuf|openssl|boost/asio|boost/beast|runtime/|sdk/' "the engine is plain C++ over the framework"
check src/framework 'grpc|grpcpp|google/protobuf|openssl|boost/asio|runtime/|engine/|sdk/' "the framework knows no transport and no taskcred"
check src/runtime 'framework/|engine/' "the runtime knows nothing of taskcred"
check src/logical 'grpc|grpcpp|google/protobuf|openssl|framework/|engine/|runtime/' "shared words only"
check src/common 'grpc|grpcpp|openssl|logical/|framework/|engine/|runtime/' "leaf library"
check src/fiber 'grpc|grpcpp|google/protobuf|openssl|logical/|framework/|engine/|runtime/' "fibers know no transport and no taskcred"
check src/grants 'grpc|grpcpp|openssl|framework/|engine/|runtime/' "grant matching is pure"
check src/dpop 'grpc|grpcpp|openssl|logical/|framework/|engine/|runtime/' "DPoP proofs are pure (crypto only)"
check src/statuslist 'grpc|grpcpp|openssl|logical/|framework/|engine/|runtime/' "status list bits are pure (zlib only)"
exit $fail
