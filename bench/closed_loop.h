// A closed-loop load driver: N operations, at most C outstanding at any
// time; each completion starts the next one. Records the latency of every
// operation. Used by the load generator and the raw gRPC benchmark alike,
// so that both figures come from the same measuring code.
#ifndef UTPOST_BENCH_CLOSED_LOOP_H_
#define UTPOST_BENCH_CLOSED_LOOP_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace utpost::bench {

// Starts operation `index` (0 <= index < N) and returns without waiting for
// it. The operation calls `done` exactly once, from any thread, when it has
// finished; it may do so before the starter returns.
using DoneCallback = std::function<void(const absl::Status&)>;
using Starter = std::function<void(int64_t index, DoneCallback done)>;

struct ClosedLoopResult {
  int64_t completed = 0;  // Operations that returned OK.
  int64_t failed = 0;
  std::string first_error;  // Status of the first failure, if any.
  // From the first start to the last completion.
  double elapsed_seconds = 0;
  // Wall-clock time of the first start, in milliseconds since the epoch
  // (to compare with server-side timestamps).
  int64_t first_start_unix_ms = 0;
  // Latency of each successful operation, in microseconds, unordered.
  std::vector<int64_t> latencies_us;
};

// Runs `n` operations with `concurrency` in flight and returns when every
// one has finished. `start` must be callable from several threads at once.
ClosedLoopResult RunClosedLoop(int64_t n, int concurrency,
                               const Starter& start);

// As RunClosedLoop, but paced from a thread of its own: operation i starts
// at i / rate seconds after the first, or later when `concurrency` are in
// flight then; its latency counts from its start. For latency below
// saturation.
ClosedLoopResult RunPaced(int64_t n, int concurrency, const Starter& start,
                          double rate);

struct LatencySummary {
  int64_t count = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
};

// Nearest-rank percentiles of `latencies_us` (any order).
LatencySummary Summarize(std::vector<int64_t> latencies_us);

}  // namespace utpost::bench

#endif  // UTPOST_BENCH_CLOSED_LOOP_H_
