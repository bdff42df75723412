// utpostd as an object: the store, the receipt signer, the broker clients,
// the adapters and the gRPC services of the configured role, wired
// together by Start and taken down by the destructor: stop taking work,
// finish what is in hand; what is committed but not yet published waits in
// the outbox for the next start.
//
// Each role is wired in its own file: api_role.h (gRPC services),
// worker_role.h (consumers, dispatcher, timers, event feeds), relay_role.h
// (the outbox relay), outside_world.h (registries and channels),
// observability_wiring.h (health, metrics, probe), maintenance.h (tree
// heads, retention).
#ifndef UTPOST_GATEWAY_GATEWAY_H_
#define UTPOST_GATEWAY_GATEWAY_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/letter_watchers.h"
#include "queue/queue.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost {
class PeriodicTask;
}  // namespace utpost

namespace utpost::dispatch {
class ProviderStats;
}  // namespace utpost::dispatch

namespace utpost::observability {
struct GatewayMetrics;
class ProviderMetrics;
class HealthServer;
class Probe;
class ReceiptMetrics;
class MetricsHttpServer;
}  // namespace utpost::observability

namespace utpost::receipts {
class ReceiptSigner;
}  // namespace utpost::receipts

namespace utpost::store {
class Store;
}  // namespace utpost::store

namespace utpost::gateway {

class ApiRole;
class RelayRole;
class ShutdownWatchdog;
class WorkerRole;
struct OutsideWorld;

class Gateway {
 public:
  // Starts every part of `config.role()` ("api", "worker" or "all"). An
  // error only for bad configuration found at start-up (unreadable keys, a
  // port in use), naming the setting; network failures are retried, never
  // fatal.
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(
      const config::v1::Config& config);
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;
  // Graceful shutdown within `observability.shutdown_grace_seconds` (or the
  // process exits): readiness off, the api server stops accepting, then the
  // members go in reverse order of declaration (see below).
  ~Gateway();

  // Makes Wait return. Thread-safe; idempotent. Tears nothing down: that
  // is the destructor's work.
  void Shutdown();
  // Blocks until Shutdown has been called.
  void Wait();

 private:
  Gateway(const config::v1::Config& config, queue::Topology topology);

  // Members are declared in dependency order: each may use those above it
  // and none below. The implicit destructor thus takes down the periodic
  // tasks first, then the worker role (consumers), the api role (whose
  // server stopped accepting in ~Gateway), the relay (which first
  // publishes what is left), the outside world, the observability parts,
  // the store, the signer and the metrics; the watchdog, armed by
  // ~Gateway, goes last. A new part goes below everything it uses.

  // Armed by ~Gateway; destroyed last, so it covers the whole teardown.
  std::unique_ptr<ShutdownWatchdog> watchdog_;
  absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  // Set once Start has finished; a half-built gateway is only destroyed.
  bool started_ = false;

  // From the configuration.
  const config::v1::Config config_;
  const queue::Topology topology_;
  const bool api_role_;
  const bool worker_role_;

  // Metrics and provider figures (the instrumented channels feed them).
  std::unique_ptr<observability::GatewayMetrics> metrics_;
  std::unique_ptr<observability::ProviderMetrics> provider_metrics_;
  std::unique_ptr<dispatch::ProviderStats> provider_stats_;

  std::unique_ptr<receipts::ReceiptSigner> signer_;
  std::unique_ptr<store::Store> store_;

  // Observability: the health server first, so that probes see a live
  // process while the rest starts; the probe is made last in Start, so
  // readiness waits for everything else.
  std::unique_ptr<observability::HealthServer> health_;
  std::unique_ptr<observability::Probe> probe_;
  std::unique_ptr<observability::ReceiptMetrics> receipt_metrics_;
  std::unique_ptr<observability::MetricsHttpServer> metrics_http_;

  // Worker role: registries and channels.
  std::unique_ptr<OutsideWorld> outside_;

  // Every role: the outbox relay, and the watch streams it tells.
  LetterWatchers watchers_;
  std::unique_ptr<RelayRole> relay_;

  // The roles themselves; either may be null.
  std::unique_ptr<ApiRole> api_;
  std::unique_ptr<WorkerRole> worker_;

  // Periodic upkeep of the store; retention only in the worker role, the
  // sweep of expired uploads only in the api role.
  std::unique_ptr<PeriodicTask> sequencer_;
  std::unique_ptr<PeriodicTask> tree_heads_;
  std::unique_ptr<PeriodicTask> retention_;
  std::unique_ptr<PeriodicTask> upload_sweep_;
};

}  // namespace utpost::gateway

#endif  // UTPOST_GATEWAY_GATEWAY_H_
