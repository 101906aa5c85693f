#!/usr/bin/env bash
# Builds the go-plugin interop host offline in GOPATH mode:
#   build_host.sh <protoc> <proto dir> <work dir> <host source dir> <output binary>
# Go stubs are generated from our proto/ files into <work dir>/gopath/src/taskcred/interop/{pb,logical};
# Debian's Go packages in /usr/share/gocode provide go-plugin 1.0.1, grpc-go and protobuf.
set -euo pipefail
protoc=$1 proto_dir=$2 work=$3 host_src=$4 out=$5
gopath=$work/gopath
pkg=$gopath/src/taskcred/interop
rm -rf "$pkg"
mkdir -p "$pkg/host" "$work/gocache"

logical_files=()
for f in "$proto_dir"/sdk/logical/*.proto; do logical_files+=("sdk/logical/$(basename "$f")"); done
files=(sdk/plugin/pb/backend.proto "${logical_files[@]}")
maps=(--go_opt=Msdk/plugin/pb/backend.proto=taskcred/interop/pb
      --go-grpc_opt=Msdk/plugin/pb/backend.proto=taskcred/interop/pb)
for f in "${logical_files[@]}"; do
  maps+=(--go_opt=M$f=taskcred/interop/logical --go-grpc_opt=M$f=taskcred/interop/logical)
done
"$protoc" -I "$proto_dir" --go_out="$gopath/src" --go-grpc_out="$gopath/src" "${maps[@]}" "${files[@]}"
cp "$host_src"/*.go "$pkg/host/"

cd "$pkg/host"
env GO111MODULE=off GOFLAGS= GOPROXY=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$work/gocache" \
  go build -o "$out" taskcred/interop/host
