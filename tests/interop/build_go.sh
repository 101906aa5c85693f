#!/usr/bin/env bash
# Builds a Go program against our protos offline, in GOPATH mode:
#   build_go.sh <protoc> <proto dir> <work dir> <output binary> <package> <source file>...
# Go stubs are generated from our proto/ files into <work dir>/gopath/src/taskcred/interop/{pb,logical};
# the sources are copied to <work dir>/gopath/src/taskcred/interop/<package>. Debian's Go packages in
# /usr/share/gocode provide go-plugin 1.0.1, grpc-go and protobuf. Used for the go-plugin interop
# host (tests/interop/host) and the bench's Go reference plugin (bench/goref).
set -euo pipefail
protoc=$1 proto_dir=$2 work=$3 out=$4 package=$5
shift 5
gopath=$work/gopath
pkg=$gopath/src/taskcred/interop
rm -rf "$pkg"
mkdir -p "$pkg/$package" "$work/gocache"

logical_files=()
for f in "$proto_dir"/sdk/logical/*.proto; do logical_files+=("sdk/logical/$(basename "$f")"); done
files=(sdk/plugin/pb/backend.proto "${logical_files[@]}")
maps=(--go_opt=Msdk/plugin/pb/backend.proto=taskcred/interop/pb
      --go-grpc_opt=Msdk/plugin/pb/backend.proto=taskcred/interop/pb)
for f in "${logical_files[@]}"; do
  maps+=(--go_opt=M$f=taskcred/interop/logical --go-grpc_opt=M$f=taskcred/interop/logical)
done
"$protoc" -I "$proto_dir" --go_out="$gopath/src" --go-grpc_out="$gopath/src" "${maps[@]}" "${files[@]}"
cp "$@" "$pkg/$package/"

cd "$pkg/$package"
env GO111MODULE=off GOFLAGS= GOPROXY=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$work/gocache" \
  go build -o "$out" "taskcred/interop/$package"
