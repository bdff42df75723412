#include "gateway/gateway.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/periodic.h"
#include "common/status_macros.h"
#include "gateway/api_role.h"
#include "gateway/dispatch/provider_stats.h"
#include "gateway/maintenance.h"
#include "gateway/observability/gateway_metrics.h"
#include "gateway/observability_wiring.h"
#include "gateway/outside_world.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/relay_role.h"
#include "gateway/settings.h"
#include "gateway/shutdown_watchdog.h"
#include "gateway/store/make_store.h"
#include "gateway/worker_role.h"
#include "spdlog/spdlog.h"

namespace utpost::gateway {

Gateway::Gateway(const config::v1::Config& config, queue::Topology topology)
    : config_(config),
      topology_(std::move(topology)),
      api_role_(config.role() != "worker"),
      worker_role_(config.role() != "api"),
      metrics_(std::make_unique<observability::GatewayMetrics>()),
      provider_metrics_(
          std::make_unique<observability::ProviderMetrics>(metrics_.get())),
      provider_stats_(std::make_unique<dispatch::ProviderStats>()) {}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(
    const config::v1::Config& config) {
  ASSIGN_OR_RETURN(queue::Topology topology, TopologyOf(config));
  std::unique_ptr<Gateway> g(new Gateway(config, std::move(topology)));
  const config::v1::Config& c = g->config_;

  auto signer = receipts::NewRotatingReceiptSigner(SignerKeysOf(c));
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipts: ", signer.status().message()));
  }
  g->signer_ = std::move(*signer);
  auto store = store::MakeStore(c.store(), g->signer_.get());
  if (!store.ok()) return absl::InvalidArgumentError(store.status().message());
  g->store_ = std::move(*store);
  store::Store* const s = g->store_.get();

  SetCertificateExpiry(c, g->metrics_.get());
  ASSIGN_OR_RETURN(g->health_, StartHealth(c));

  // Built before the services so that a bad provider setting stops start-up.
  // The api role's preflight asks the same registries as the worker.
  if (g->worker_role_ || g->api_role_) {
    ASSIGN_OR_RETURN(
        g->outside_,
        BuildOutsideWorld(
            c, s, {g->provider_stats_.get(), g->provider_metrics_.get()}));
  }

  Gateway* const self = g.get();
  RelayRoleDeps relay;
  relay.store = s;
  relay.topology = g->topology_;
  relay.on_sent = [self] { self->watchers_.Notify(); };
  relay.broker_down = [self] {
    return self->probe_ != nullptr && !self->probe_->broker_up();
  };
  g->relay_ = std::make_unique<RelayRole>(c, std::move(relay));
  RelayRole* const relay_role = g->relay_.get();
  auto on_change = [relay_role, self] {
    relay_role->Wake();
    self->watchers_.Notify();
  };

  g->sequencer_ = StartSequencer(s, [self] { self->watchers_.Notify(); });
  g->tree_heads_ = StartTreeHeads(c, s);
  if (g->worker_role_) g->retention_ = StartRetention(c, s);
  if (g->api_role_) g->upload_sweep_ = StartUploadSweep(c, s);

  if (g->api_role_) {
    ApiRoleDeps api;
    api.store = s;
    api.signer = g->signer_.get();
    api.metrics = g->metrics_.get();
    api.watchers = &g->watchers_;
    api.topology = g->topology_;
    api.wake_relay = [relay_role] { relay_role->Wake(); };
    api.outside = g->outside_.get();
    ASSIGN_OR_RETURN(g->api_, ApiRole::Start(c, std::move(api)));
  }

  if (g->worker_role_) {
    WorkerRoleDeps worker;
    worker.store = s;
    worker.metrics = g->metrics_.get();
    worker.outside = g->outside_.get();
    worker.provider_stats = g->provider_stats_.get();
    worker.topology = g->topology_;
    worker.on_change = on_change;
    g->worker_ = std::make_unique<WorkerRole>(c, std::move(worker));
  }

  ASSIGN_OR_RETURN(MetricsServing metrics,
                   StartMetrics(c, s, g->metrics_.get()));
  g->receipt_metrics_ = std::move(metrics.receipt_metrics);
  g->metrics_http_ = std::move(metrics.http);
  if (g->health_ || g->metrics_http_) {
    g->probe_ =
        StartProbe(c, g->topology_, s, g->health_.get(), g->metrics_.get());
  }
  g->started_ = true;
  return g;
}

Gateway::~Gateway() {
  if (!started_) return;  // A failed start: the members go in order.
  const int grace = config_.observability().shutdown_grace_seconds();
  watchdog_ = std::make_unique<ShutdownWatchdog>(absl::Seconds(grace));
  spdlog::info("shutting down");
  // Load balancers and Kubernetes stop sending first.
  if (probe_) probe_->BeginShutdown();
  if (health_) health_->BeginDrain();
  // No new RPCs; those in flight get a few seconds (watch streams end).
  if (api_) api_->StopAccepting(absl::Seconds(std::min(5, grace / 2)));
  // The rest is the members' destructors, in reverse order of declaration.
}

void Gateway::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
}

void Gateway::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&shutdown_));
}

}  // namespace utpost::gateway
