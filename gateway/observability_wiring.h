// The daemon's observability parts from `observability`: the plain-text
// health server, the /metrics server with the receipt-driven metrics, and
// the probe that feeds readiness and the gauges read from outside.
#ifndef UTPOST_GATEWAY_OBSERVABILITY_WIRING_H_
#define UTPOST_GATEWAY_OBSERVABILITY_WIRING_H_

#include <memory>

#include "absl/status/statusor.h"
#include "gateway/observability/gateway_metrics.h"
#include "gateway/observability/health.h"
#include "gateway/observability/metrics_http.h"
#include "gateway/observability/receipt_metrics.h"
#include "gateway/store/store.h"
#include "queue/queue.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::gateway {

// Sets the expiry gauge of each configured certificate file. A file that
// cannot be read was reported by whoever uses it; it gets no series.
void SetCertificateExpiry(const config::v1::Config& config,
                          observability::GatewayMetrics* metrics);

// The health server on `observability.health_listen`; null when that is
// empty. Start it before any other gRPC server (see HealthServer).
absl::StatusOr<std::unique_ptr<observability::HealthServer>> StartHealth(
    const config::v1::Config& config);

// The /metrics server on `observability.metrics_listen`, each scrape first
// reading new receipts through `receipt_metrics`; null when that is empty.
// `receipt_metrics` is made here (null too then) and must outlive the
// server. `store` and `metrics` are not owned and outlive both.
struct MetricsServing {
  std::unique_ptr<observability::ReceiptMetrics> receipt_metrics;
  std::unique_ptr<observability::MetricsHttpServer> http;
};
absl::StatusOr<MetricsServing> StartMetrics(
    const config::v1::Config& config, store::Store* store,
    observability::GatewayMetrics* metrics);

// The probe of store and broker behind `health` and `metrics` (neither
// owned, either may be null; both outlive the probe).
std::unique_ptr<observability::Probe> StartProbe(
    const config::v1::Config& config, const queue::Topology& topology,
    store::Store* store, observability::HealthServer* health,
    observability::GatewayMetrics* metrics);

}  // namespace utpost::gateway

#endif  // UTPOST_GATEWAY_OBSERVABILITY_WIRING_H_
