#!/usr/bin/env bash
# Installs every Debian 12 package taskcred needs to build, test and fuzz.
# The single source of truth for dependencies: .ci/run and the README call it.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git ca-certificates lld bolt-15
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libre2-dev
  nlohmann-json3-dev zlib1g-dev libboost-dev libboost-context-dev libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev llvm-14
  python3 python3-jwt python3-cryptography
  nginx-light
  golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev
  golang-google-protobuf-dev protoc-gen-go protoc-gen-go-grpc
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
