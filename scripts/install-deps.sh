#!/usr/bin/env bash
# Installs the Debian 12 packages Utpost builds, runs and tests with. Only
# what is missing is installed; a second run does nothing.
set -euo pipefail
packages=(
  cmake g++ ninja-build pkg-config clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libgtest-dev libgmock-dev
  librabbitmq-dev amqp-tools rabbitmq-server
  libsqlite3-dev libcurl4-openssl-dev libssl-dev openssl ca-certificates
  libqpdf-dev libcpp-httplib-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libyaml-cpp-dev libcli11-dev
  python3 python3-grpcio python3-protobuf python3-yaml
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package starts a system broker on 5672 on some hosts; Utpost runs its
# own on other ports and leaves any system one alone.
