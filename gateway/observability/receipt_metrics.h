// State-transition metrics read from the receipts the store writes: every
// state change is one receipt, so following the receipt cursor counts each
// transition, whichever component or process made it, without hooks in the
// store's commit path. Also times submission to DELIVERED / SENT_PRINT per
// channel.
//
// The transition counters start at the store's totals and follow them, so
// every process on one store reports the same figures, a restart included:
// aggregate processes with max, not sum. The latency histogram covers what
// this process saw since it started.
#ifndef UTPOST_GATEWAY_OBSERVABILITY_RECEIPT_METRICS_H_
#define UTPOST_GATEWAY_OBSERVABILITY_RECEIPT_METRICS_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "common/periodic.h"
#include "gateway/observability/gateway_metrics.h"
#include "gateway/store/store.h"

namespace utpost::observability {

class ReceiptMetrics {
 public:
  // Neither is owned; both outlive this. With `start_thread` false nothing
  // runs by itself (tests call PollOnce).
  ReceiptMetrics(store::Store* store, GatewayMetrics* metrics,
                 bool start_thread = true, int poll_ms = 1000);
  ~ReceiptMetrics();

  // Reads new receipts now rather than at the next poll (nothing without
  // the thread). Thread-safe.
  void Wake();
  // Reads every receipt after the cursor now (before a scrape, say).
  // Thread-safe: concurrent calls take turns.
  void PollOnce();

 private:
  void Count(const store::Store::TransitionNote& t)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_);

  store::Store* const store_;
  GatewayMetrics* const metrics_;
  std::mutex poll_mu_;  // Held through PollOnce.
  int64_t cursor_ ABSL_GUARDED_BY(poll_mu_) = 0;
  bool started_ ABSL_GUARDED_BY(poll_mu_) = false;
  std::unique_ptr<PeriodicTask> polls_;  // Null without the thread.
};

}  // namespace utpost::observability

#endif  // UTPOST_GATEWAY_OBSERVABILITY_RECEIPT_METRICS_H_
