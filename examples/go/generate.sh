#!/usr/bin/env bash
# Generates the Go protobuf and gRPC code for every proto under proto/ into a GOPATH folder
# (default: examples/go/gopath, gitignored) as the package "slipstream/v1". Offline: builds
# against Debian's Go sources in /usr/share/gocode, no module downloads.
#   apt-get install golang-go golang-google-grpc-dev golang-google-protobuf-dev \
#                   protobuf-compiler protoc-gen-go protoc-gen-go-grpc
# Then:  GO111MODULE=off GOPATH="$PWD/gopath:/usr/share/gocode" go run . -address 127.0.0.1:3000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
gopath="${1:-$here/gopath}"
out="$gopath/src"
mkdir -p "$out"
# The protos carry no go_package option: map each file to the import path here (M flags).
maps=()
files=()
for f in "$root"/proto/slipstream/v1/*.proto; do
  rel="slipstream/v1/$(basename "$f")"
  files+=("$rel")
  maps+=("M$rel=slipstream/v1;slipstreamv1")
done
go_opts="paths=source_relative$(printf ',%s' "${maps[@]}")"
protoc -I "$root/proto" --go_out="$out" --go_opt="$go_opts" \
  --go-grpc_out="$out" --go-grpc_opt="$go_opts" "${files[@]}"
echo "generated into $out/slipstream/v1"
