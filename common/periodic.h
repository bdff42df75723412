// A callback run every interval on a thread of its own: the scanners,
// pollers and refreshers of the daemon, each a "do X every N seconds".
#ifndef UTPOST_COMMON_PERIODIC_H_
#define UTPOST_COMMON_PERIODIC_H_

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace utpost {

struct PeriodicTaskOptions {
  // Pause between the end of one run and the start of the next. A run that
  // takes longer than this is not overlapped and not caught up: the next
  // one starts `interval` after it ends. Must be positive.
  absl::Duration interval = absl::Seconds(1);
  // Pause before the first run. Zero: the first run starts at once.
  absl::Duration initial_delay = absl::ZeroDuration();
};

// Runs `fn` on its own thread, first after `initial_delay`, then
// `interval` after each run ends, until stopped. Runs never overlap.
//
// Thread-safe. Wake may be called from any thread, `fn` included, and
// never waits for a run. Stop may be called from any thread but `fn`'s own
// (it would wait for itself).
class PeriodicTask {
 public:
  PeriodicTask(PeriodicTaskOptions options, std::function<void()> fn);
  // Every `interval`, the first run at once.
  PeriodicTask(absl::Duration interval, std::function<void()> fn);
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;
  // Stop().
  ~PeriodicTask();

  // Runs `fn` now rather than at the next tick; during a run, once more
  // right after it. Wakes that come together make one run.
  void Wake();
  // No run starts after this; waits for the current one to end, then joins
  // the thread. Prompt when idle: the pause is cut short. Idempotent.
  void Stop();

  // Runs finished so far (tests, diagnostics).
  int64_t runs() const;

 private:
  void Loop(absl::Duration initial_delay, absl::Duration interval,
            const std::function<void()>& fn);

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  int64_t runs_ ABSL_GUARDED_BY(mu_) = 0;
  // Serialises Stop callers around the join.
  absl::Mutex join_mu_;
  std::thread thread_;  // Last: starts once the rest is there.
};

}  // namespace utpost

#endif  // UTPOST_COMMON_PERIODIC_H_
