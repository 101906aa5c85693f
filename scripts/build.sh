#!/usr/bin/env bash
# Configures and builds taskcred into ./build (or $BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} \
  -DTASKCRED_WERROR=${TASKCRED_WERROR:-OFF} ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j"$(nproc)"
