#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan into
# build-fuzz/ (or $UTPOST_FUZZ_BUILD_DIR) and runs each for a bounded time:
# first every committed input once (fuzz/corpus/<name>/ and
# fuzz/regressions/<name>/), then new inputs grown from them for SECONDS.
# Fails when any target crashes, leaks, trips a sanitizer, runs out of
# memory (2 GB) or takes more than 10 s on one input; the input is kept as
# build-fuzz/fuzz-run/<name>/crash-* (or leak-, timeout-, oom-) and belongs,
# once fixed, in fuzz/regressions/<name>/. Prints one line per target.
# Targets run two at a time (UTPOST_FUZZ_PARALLEL).
#
#   scripts/run-fuzz.sh            # 30 s per target
#   scripts/run-fuzz.sh 300        # longer
#   UTPOST_FUZZ_TARGETS="config dpi" scripts/run-fuzz.sh 60
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
build=${UTPOST_FUZZ_BUILD_DIR:-$root/build-fuzz}
limits=(-rss_limit_mb=2048 -timeout=10)

start=$(date +%s)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DUTPOST_FUZZ=ON >/dev/null
# Only the targets and what they link, not the whole project.
if ! cmake --build "$build" --target fuzzers -j "${UTPOST_JOBS:-2}" \
      >"$build/fuzz-build.log" 2>&1; then
  grep -E -A3 'error|FAILED' "$build/fuzz-build.log" | head -n 40 >&2 || true
  echo "run-fuzz: build failed (log: $build/fuzz-build.log)" >&2
  exit 1
fi
built=$(date +%s)
echo "run-fuzz: built in $((built - start)) s; ${seconds} s per target"

if [ -n "${UTPOST_FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$UTPOST_FUZZ_TARGETS"
else
  targets=()
  for f in "$root"/fuzz/*_fuzzer.cc; do
    n=$(basename "$f" _fuzzer.cc)
    targets+=("$n")
  done
fi

shopt -s nullglob
# fuzz_one NAME: replays and fuzzes one target; its line goes to
# $build/fuzz-run/NAME/result, and it returns non-zero on a failure.
fuzz_one() {
  local name=$1
  local bin=$build/fuzz/${name}_fuzzer
  local work=$build/fuzz-run/$name
  rm -rf "$work"
  mkdir -p "$work/corpus"
  local seeds=("$root/fuzz/corpus/$name" "$root/fuzz/regressions/$name")
  local inputs=("$root/fuzz/corpus/$name"/* "$root/fuzz/regressions/$name"/*)
  exec >"$work/result"
  if [ ${#inputs[@]} -eq 0 ]; then
    echo "fuzz $name: FAILED (no seed corpus in fuzz/corpus/$name)"
    return 1
  fi
  # 1. Every committed input once: the regressions stay fixed.
  if ! (cd "$work" && "$bin" "${limits[@]}" -artifact_prefix="$work/" \
          "${inputs[@]}") >"$work/replay.log" 2>&1; then
    echo "fuzz $name: FAILED on a committed input (log: $work/replay.log)"
    grep -E 'ERROR|SUMMARY|Running:|runtime error' "$work/replay.log" | tail -n 8 || true
    return 1
  fi
  # 2. New inputs for a bounded time; the committed ones are read only,
  # what the fuzzer adds goes to $work/corpus.
  local dirs=() dict=() status=0 runs corp cov artifacts d
  for d in "${seeds[@]}"; do [ -d "$d" ] && dirs+=("$d"); done
  [ -f "$root/fuzz/dict/$name.dict" ] && dict=(-dict="$root/fuzz/dict/$name.dict")
  (cd "$work" && "$bin" "${limits[@]}" "${dict[@]}" -max_total_time="$seconds" \
      -print_final_stats=1 -artifact_prefix="$work/" \
      "$work/corpus" "${dirs[@]}") >"$work/fuzz.log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n 1)
  corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$work/fuzz.log" | tail -n 1 |
         sed 's/corp: //')
  cov=$(grep -oE 'cov: [0-9]+' "$work/fuzz.log" | tail -n 1 | sed 's/cov: //')
  artifacts=("$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* \
             "$work"/slow-unit-*)
  if [ "$status" -ne 0 ] || [ ${#artifacts[@]} -ne 0 ]; then
    echo "fuzz $name: FAILED after ${runs:-?} executions (log: $work/fuzz.log)"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$work/fuzz.log" | tail -n 8 || true
    return 1
  fi
  echo "fuzz $name: ok, ${runs:-0} executions in ${seconds} s, corpus ${corp:-?} (inputs/bytes), coverage ${cov:-?} edges"
}

# The targets run side by side, UTPOST_FUZZ_PARALLEL at a time (default: the
# machine's cores, at most 2 as the build machines' rule); each fuzzer is one
# process, so this shortens the run without shortening any target's time.
parallel=${UTPOST_FUZZ_PARALLEL:-$(nproc)}
[ "$parallel" -gt 2 ] && [ -z "${UTPOST_FUZZ_PARALLEL:-}" ] && parallel=2
failed=()
declare -A pids=()
running=()
for name in "${targets[@]}"; do
  mkdir -p "$build/fuzz-run"
  while [ ${#running[@]} -ge "$parallel" ]; do
    wait -n || true
    still=()
    for n in "${running[@]}"; do
      kill -0 "${pids[$n]}" 2>/dev/null && still+=("$n")
    done
    running=("${still[@]}")
  done
  fuzz_one "$name" &
  pids[$name]=$!
  running+=("$name")
done
for name in "${targets[@]}"; do
  if ! wait "${pids[$name]}"; then
    failed+=("$name")
  fi
  cat "$build/fuzz-run/$name/result"
done

echo "run-fuzz: ${#targets[@]} targets in $(($(date +%s) - start)) s (build $((built - start)) s)"
if [ ${#failed[@]} -ne 0 ]; then
  echo "run-fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
