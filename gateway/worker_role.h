// The worker role: consumers of the work queues, the dispatcher that
// routes and delivers, the timers and stuck-letter sweep, the providers'
// event feeds and the flush of the provider figures.
#ifndef UTPOST_GATEWAY_WORKER_ROLE_H_
#define UTPOST_GATEWAY_WORKER_ROLE_H_

#include <functional>
#include <memory>

#include "gateway/dispatch/dispatcher.h"
#include "gateway/dispatch/event_poller.h"
#include "gateway/dispatch/provider_stats.h"
#include "gateway/dispatch/timer_scanner.h"
#include "gateway/dispatch/worker_pool.h"
#include "gateway/observability/gateway_metrics.h"
#include "gateway/outside_world.h"
#include "gateway/store/store.h"
#include "queue/queue.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::gateway {

// Not owned; all outlive the role.
struct WorkerRoleDeps {
  store::Store* store = nullptr;
  observability::GatewayMetrics* metrics = nullptr;
  // The registries and channels (instrumented into `provider_stats`).
  OutsideWorld* outside = nullptr;
  dispatch::ProviderStats* provider_stats = nullptr;
  queue::Topology topology;
  // After a state change: wakes the outbox relay and the watchers.
  std::function<void()> on_change;
};

class WorkerRole {
 public:
  // Starts consuming at once; the broker need not be up (the consumers
  // retry).
  WorkerRole(const config::v1::Config& config, WorkerRoleDeps deps);
  // No new deliveries; those in hand finish and are acked once their
  // outcome is stored. Prefetched ones return to the queue when the
  // consumers' connections close. Then the scanners, the dispatcher and,
  // last, one more flush of the provider figures.
  ~WorkerRole() = default;

 private:
  // In dependency order: each may use those above it, so the implicit
  // destructor stops the consumers first and the figures last.
  std::unique_ptr<dispatch::ProviderStatsRecorder> stats_recorder_;
  std::unique_ptr<dispatch::Dispatcher> dispatcher_;
  std::unique_ptr<dispatch::TimerScanner> timers_;
  std::unique_ptr<dispatch::EventPoller> poller_;
  std::unique_ptr<dispatch::WorkerPool> workers_;
};

}  // namespace utpost::gateway

#endif  // UTPOST_GATEWAY_WORKER_ROLE_H_
