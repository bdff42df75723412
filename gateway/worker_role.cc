#include "gateway/worker_role.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/status_macros.h"
#include "gateway/settings.h"
#include "queue/amqp_broker.h"
#include "spdlog/spdlog.h"

namespace utpost::gateway {
namespace {

dispatch::DispatcherOptions DispatcherOptionsOf(
    const config::v1::Config& config, const queue::Topology& topology,
    observability::GatewayMetrics* metrics) {
  dispatch::DispatcherOptions d;
  d.topology = topology;
  const auto& flow = config.dispatch();
  d.routing.digipost_providers.assign(flow.digipost_providers().begin(),
                                      flow.digipost_providers().end());
  d.routing.dpi_providers.assign(flow.dpi_providers().begin(),
                                 flow.dpi_providers().end());
  d.retry_delays_seconds = topology.retry_delays_seconds;
  d.max_attempts = config.retry().max_attempts();
  d.on_retry = [metrics](const std::string& stage) {
    metrics->retries->WithLabels({stage})->Increment();
  };
  for (const auto& t : config.tenants()) {
    adapters::PostalAddress a;
    a.name = t.return_address().name();
    a.lines.assign(t.return_address().address_lines().begin(),
                   t.return_address().address_lines().end());
    a.postal_code = t.return_address().postal_code();
    a.city = t.return_address().city();
    d.return_addresses[t.organisation_number()] = a;
  }
  return d;
}

}  // namespace

WorkerRole::WorkerRole(const config::v1::Config& config, WorkerRoleDeps deps) {
  const queue::Topology& topology = deps.topology;
  // Provider figures: the sums go to the store every few seconds, where any
  // api process reads them.
  stats_recorder_ = std::make_unique<dispatch::ProviderStatsRecorder>(
      deps.store, deps.provider_stats, dispatch::ThisProcessId(),
      absl::Seconds(5));
  dispatcher_ = std::make_unique<dispatch::Dispatcher>(
      deps.store, deps.outside->registry.get(),
      deps.outside->organisations.get(), deps.outside->ChannelMap(),
      DispatcherOptionsOf(config, topology, deps.metrics), deps.on_change);

  const auto& flow = config.dispatch();
  dispatch::TimerScannerOptions scan;
  scan.interval_ms = flow.timer_scan_interval_ms();
  scan.stuck_after_ms = flow.stuck_after_seconds() < 0
                            ? 0
                            : int64_t{flow.stuck_after_seconds()} * 1000;
  timers_ = std::make_unique<dispatch::TimerScanner>(deps.store,
                                                     dispatcher_.get(), scan);
  dispatch::EventPollerOptions events;
  events.interval_ms = int64_t{flow.event_poll_interval_seconds()} * 1000;
  poller_ = std::make_unique<dispatch::EventPoller>(dispatcher_.get(), events);

  // Each lane has consumers of its own (queue::Topology): a bulk run keeps
  // the bulk lane's busy while single letters find theirs free.
  std::vector<std::vector<std::string>> groups;
  for (const auto& stage : topology.stages) {
    for (int i = 0; i < config.workers_per_queue(); ++i) {
      groups.push_back({topology.StageQueue(stage)});
      groups.push_back({topology.BulkStageQueue(stage)});
    }
  }
  auto broker = BrokerOptionsOf(config, "worker");
  // rabbitmq-c answers heartbeats only inside its own calls, so the broker
  // must not give up on a consumer during the longest provider call its
  // handler can make.
  broker.heartbeat_seconds =
      std::max(10, config.providers().timeout_seconds() + 15);
  // Paused channels are in the store, so every worker process sees an
  // operator's pause; their delivery queues are not consumed meanwhile.
  store::Store* const store = deps.store;
  auto paused_queues = [store,
                        topology]() -> absl::StatusOr<std::set<std::string>> {
    ASSIGN_OR_RETURN(auto paused, store->PausedChannels());
    std::set<std::string> queues;
    for (const auto& p : paused) {
      queues.insert(topology.StageQueue("deliver." + p.channel));
      queues.insert(topology.BulkStageQueue("deliver." + p.channel));
    }
    return queues;
  };
  // Letters to route that arrive together are looked up in the registry
  // together: as many as the broker hands a consumer at once.
  std::map<std::string, int> batches = {
      {topology.StageQueue("route"), broker.prefetch},
      {topology.BulkStageQueue("route"), broker.prefetch}};
  workers_ = std::make_unique<dispatch::WorkerPool>(
      [broker] { return queue::NewAmqpConsumer(broker); }, dispatcher_.get(),
      groups, paused_queues, /*check_interval_ms=*/1000, batches);
  spdlog::info("worker: {} consumers on {} queues", groups.size(),
               2 * topology.stages.size());
  std::cout << "utpostd worker: " << groups.size() << " consumers" << std::endl;
}

}  // namespace utpost::gateway
