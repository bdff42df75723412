#include "gateway/observability_wiring.h"

#include <chrono>
#include <iostream>
#include <utility>

#include "common/status_macros.h"
#include "gateway/config/certificates.h"
#include "gateway/settings.h"
#include "queue/amqp_broker.h"
#include "spdlog/spdlog.h"

namespace utpost::gateway {

void SetCertificateExpiry(const config::v1::Config& config,
                          observability::GatewayMetrics* metrics) {
  for (const config::CertificateFile& file :
       config::ConfiguredCertificateFiles(config)) {
    auto expiry = config::EarliestExpiry(file.path);
    if (!expiry.ok()) {
      spdlog::warn("certificate {}: {}", file.setting,
                   expiry.status().ToString());
      continue;
    }
    metrics->certificate_expiry->WithLabels({file.setting})
        ->Set(static_cast<double>(expiry->not_after_ms / 1000));
  }
}

absl::StatusOr<std::unique_ptr<observability::HealthServer>> StartHealth(
    const config::v1::Config& config) {
  const auto& obs = config.observability();
  if (obs.health_listen().empty()) return nullptr;
  observability::HealthServerLimits limits;
  limits.handshake_timeout_ms = obs.server_read_timeout_ms();
  limits.max_connection_idle_ms =
      int64_t{obs.health_max_connection_idle_seconds()} * 1000;
  limits.max_concurrent_streams = obs.health_max_concurrent_streams();
  ASSIGN_OR_RETURN(auto health, observability::HealthServer::Start(
                                    obs.health_listen(), limits));
  std::cout << "utpostd health on " << obs.health_listen() << std::endl;
  spdlog::info("health: grpc.health.v1 on {} (plain text)",
               obs.health_listen());
  return health;
}

absl::StatusOr<MetricsServing> StartMetrics(
    const config::v1::Config& config, store::Store* store,
    observability::GatewayMetrics* metrics) {
  const auto& obs = config.observability();
  MetricsServing serving;
  if (obs.metrics_listen().empty()) return serving;
  serving.receipt_metrics =
      std::make_unique<observability::ReceiptMetrics>(store, metrics);
  auto* rm = serving.receipt_metrics.get();
  observability::HttpServerLimits limits;
  limits.read_timeout_ms = obs.server_read_timeout_ms();
  limits.write_timeout_ms = obs.server_write_timeout_ms();
  limits.max_connections = obs.metrics_max_connections();
  ASSIGN_OR_RETURN(serving.http, observability::MetricsHttpServer::Start(
                                     obs.metrics_listen(), &metrics->registry,
                                     [rm] { rm->PollOnce(); }, limits));
  std::cout << "utpostd metrics on " << obs.metrics_listen() << std::endl;
  spdlog::info("metrics: http://{}/metrics", obs.metrics_listen());
  return serving;
}

std::unique_ptr<observability::Probe> StartProbe(
    const config::v1::Config& config, const queue::Topology& topology,
    store::Store* store, observability::HealthServer* health,
    observability::GatewayMetrics* metrics) {
  observability::ProbeOptions options;
  options.topology = topology;
  options.tree_head_interval_seconds =
      config.receipt_log().tree_head_interval_seconds();
  // A broker that hangs is as good as down, and readiness should say so
  // within seconds.
  auto broker = BrokerOptionsOf(config, "probe");
  broker.connect_timeout = std::chrono::seconds(2);
  broker.rpc_timeout = std::chrono::seconds(3);
  return std::make_unique<observability::Probe>(
      store, queue::NewAmqpAdmin(broker), health, metrics, std::move(options));
}

}  // namespace utpost::gateway
