#!/usr/bin/env bash
# Generates the Python protobuf and gRPC stubs for every proto under proto/ into OUT
# (default: examples/python/generated). Needs protoc and the gRPC Python plugin:
#   apt-get install protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here/generated}"
plugin="$(command -v grpc_python_plugin || true)"
if [ -z "$plugin" ]; then echo "grpc_python_plugin not found: apt-get install protobuf-compiler-grpc" >&2; exit 1; fi
mkdir -p "$out"
protoc -I "$root/proto" --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" "$root"/proto/slipstream/v1/*.proto
echo "stubs in $out"
