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
status=0
# Four at a time on two cores: the end-to-end tests spend much of their
# time waiting on brokers, servers and timers, so two leave the cores half
# idle (measured: 17 min with -j2, 11 min with -j4, the same tests green).
ctest --test-dir "$build" --output-on-failure -j "${UTPOST_TEST_JOBS:-4}" "$@" ||
  status=$?
if [ "$status" -ne 0 ]; then
  # The failures' own lines, last, where a reader of a long log looks first.
  log="$build/Testing/Temporary/LastTest.log"
  echo
  echo "== failing checks (from $log) =="
  grep -E -A4 '^(FAIL|ERROR): |^\[  FAILED  \]|Failure$|Error: |Exception: ' \
    "$log" | grep -v '^\[  FAILED  \] .* tests\?, listed below' |
    head -n 80 || true
fi
exit "$status"
