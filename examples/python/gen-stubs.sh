#!/bin/sh
# Generates the Python gRPC stubs of Utpost's API into OUT (default
# ./utpost_stubs) with Debian's protoc and grpc_python_plugin
# (packages protobuf-compiler and protobuf-compiler-grpc).
#   examples/python/gen-stubs.sh [OUT]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto="$here/../../proto"
out=${1:-utpost_stubs}
mkdir -p "$out"
protoc -I "$proto" --python_out="$out" --grpc_out="$out" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" \
  "$proto/utpost/v1/letter.proto" "$proto/utpost/v1/audit.proto" \
  "$proto/google/rpc/status.proto" "$proto/google/rpc/error_details.proto"
touch "$out/utpost/__init__.py" "$out/utpost/v1/__init__.py"
# google/rpc (a refusal's RetryInfo) stays without __init__.py, so that it
# joins the installed google namespace package (google.protobuf).
