#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests and the
# integration and end-to-end tests, which start their own RabbitMQ nodes,
# simulators and daemons on loopback. `.ci/run` calls this.
#
#   scripts/run-tests.sh            # everything
#   scripts/run-tests.sh -L unit    # extra arguments go to ctest
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
scripts/build.sh
build=${UTPOST_BUILD_DIR:-$root/build}
ctest --test-dir "$build" --output-on-failure -j "${UTPOST_TEST_JOBS:-2}" "$@"
