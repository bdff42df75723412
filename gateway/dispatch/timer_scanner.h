// Fires due timers kept in the store (print if unread, scheduled delivery)
// and republishes lost work. Worker role. Timers live in the store, so they
// survive restarts; each is claimed in the transaction that acts on it, so
// with several workers scanning, each fires once.
//
// Lost work: a letter in QUEUED or ROUTED that has not changed for
// `stuck_after_ms`, with no unpublished outbox row and no timer, has lost
// its work item (a broker that dropped a queue, a message nacked away). Its
// item is published again; the consumers are idempotent, so a letter that
// was merely slow is not sent twice. The threshold must be well above the
// longest retry delay (a letter waiting in a retry queue is not stuck).
#ifndef UTPOST_GATEWAY_DISPATCH_TIMER_SCANNER_H_
#define UTPOST_GATEWAY_DISPATCH_TIMER_SCANNER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/periodic.h"
#include "gateway/dispatch/dispatcher.h"
#include "gateway/store/store.h"

namespace utpost::dispatch {

struct TimerScannerOptions {
  // Pause between scans. Default 1 s.
  int64_t interval_ms = 1000;
  // Timers fired per scan at most.
  int batch = 500;
  // Letters unchanged this long with nothing pending are stuck. 0: never
  // sweep. Default 3 h (three times the default longest retry delay).
  int64_t stuck_after_ms = int64_t{3} * 3600 * 1000;
  // Pause between sweeps for stuck letters. Default 60 s.
  int64_t sweep_interval_ms = 60 * 1000;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
  // Scan and sweep on threads of their own, each first at once (tests call
  // ScanOnce/SweepOnce instead).
  bool start_thread = true;
  // Who claims due timers (Store::ClaimDueTimers); empty: this process
  // (host:pid).
  std::string owner;
  // How long claimed timers are this scanner's.
  int64_t lease_ms = 30000;
};

// Thread-safe.
class TimerScanner {
 public:
  // Not owned; outlive this.
  TimerScanner(store::Store* store, Dispatcher* dispatcher,
               TimerScannerOptions options);
  ~TimerScanner();  // Stops after the current scan and sweep.

  // Fires every timer due now. Returns how many were due (fired or found
  // taken), or the store's error.
  absl::StatusOr<int> ScanOnce();
  // Republishes the work of stuck letters. Returns how many were found.
  absl::StatusOr<int> SweepOnce();

 private:
  store::Store* const store_;
  Dispatcher* const dispatcher_;
  const TimerScannerOptions options_;
  const Clock* const clock_;
  // Null without start_thread; the sweep also when it never sweeps.
  std::unique_ptr<PeriodicTask> scans_;
  std::unique_ptr<PeriodicTask> sweeps_;
};

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_TIMER_SCANNER_H_
