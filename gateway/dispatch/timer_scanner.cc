#include "gateway/dispatch/timer_scanner.h"

#include <memory>

#include "common/status_macros.h"
#include "gateway/dispatch/provider_stats.h"
#include "spdlog/spdlog.h"

namespace utpost::dispatch {

TimerScanner::TimerScanner(store::Store* store, Dispatcher* dispatcher,
                           TimerScannerOptions options)
    : store_(store),
      dispatcher_(dispatcher),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : RealClock()) {
  if (!options_.start_thread) return;
  scans_ = std::make_unique<PeriodicTask>(
      absl::Milliseconds(options_.interval_ms), [this] {
        if (auto n = ScanOnce(); !n.ok()) {
          spdlog::warn("timer scan: {}", n.status().ToString());
        }
      });
  // On its own thread, so that a long sweep does not hold timers back.
  if (options_.stuck_after_ms > 0) {
    sweeps_ = std::make_unique<PeriodicTask>(
        absl::Milliseconds(options_.sweep_interval_ms), [this] {
          if (auto n = SweepOnce(); !n.ok()) {
            spdlog::warn("stuck-letter sweep: {}", n.status().ToString());
          }
        });
  }
}

TimerScanner::~TimerScanner() {
  scans_.reset();
  sweeps_.reset();
}

absl::StatusOr<int> TimerScanner::ScanOnce() {
  // Claimed, so that scanners of several processes share the due timers;
  // FireTimer still lets only one act on each.
  ASSIGN_OR_RETURN(
      auto due, store_->ClaimDueTimers(
                    options_.owner.empty() ? ThisProcessId() : options_.owner,
                    clock_->NowMillis(), options_.batch, options_.lease_ms));
  for (const auto& timer : due) {
    if (absl::Status s = dispatcher_->FireTimer(timer); !s.ok()) {
      // Left in place; the next scan tries again.
      spdlog::warn("timer {} of letter {}: {}", timer.kind, timer.letter_id,
                   s.ToString());
    }
  }
  return static_cast<int>(due.size());
}

absl::StatusOr<int> TimerScanner::SweepOnce() {
  if (options_.stuck_after_ms <= 0) return 0;
  ASSIGN_OR_RETURN(
      auto stuck,
      store_->StuckLetters(clock_->NowMillis() - options_.stuck_after_ms, 100));
  for (const auto& letter : stuck) {
    if (absl::Status s = dispatcher_->RequeueStuck(letter); !s.ok()) {
      spdlog::warn("stuck letter {}: {}", letter.id, s.ToString());
    }
  }
  return static_cast<int>(stuck.size());
}

}  // namespace utpost::dispatch
