#include "gateway/observability/health.h"

#include <algorithm>
#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "spdlog/spdlog.h"

namespace utpost::observability {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(
    const std::string& listen, HealthServerLimits limits) {
  const HealthServerLimits defaults;
  if (limits.handshake_timeout_ms <= 0) {
    limits.handshake_timeout_ms = defaults.handshake_timeout_ms;
  }
  if (limits.max_connection_idle_ms <= 0) {
    limits.max_connection_idle_ms = defaults.max_connection_idle_ms;
  }
  if (limits.max_concurrent_streams <= 0) {
    limits.max_concurrent_streams = defaults.max_concurrent_streams;
  }
  if (limits.max_threads <= 0) limits.max_threads = defaults.max_threads;
  if (limits.keepalive_time_ms <= 0) {
    limits.keepalive_time_ms = defaults.keepalive_time_ms;
  }
  std::unique_ptr<HealthServer> h(new HealthServer());
  // Reflection (as the configuration promises) is also what gives the
  // server a synchronous service, without which gRPC builds no server for
  // the default health service alone.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // The switch is process-wide and read when a server is built: on for
  // this server only; servers built later (the API) get no health service.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(),
                           &h->port_);
  // A client that connects and stalls holds nothing but a descriptor until
  // the handshake timeout; idle connections go after a while; calls are
  // bounded per connection and in threads.
  auto to_int = [](int64_t v) {
    return static_cast<int>(std::min<int64_t>(v, 1 << 30));
  };
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             to_int(limits.handshake_timeout_ms));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             to_int(limits.max_connection_idle_ms));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             limits.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             to_int(limits.keepalive_time_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  grpc::ResourceQuota quota("utpost-health");
  quota.SetMaxThreads(limits.max_threads);
  builder.SetResourceQuota(quota);
  h->server_ = builder.BuildAndStart();
  grpc::EnableDefaultHealthCheckService(false);
  if (!h->server_ || h->port_ == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("observability.health_listen: cannot listen on ", listen));
  }
  auto* service = h->server_->GetHealthCheckService();
  service->SetServingStatus("liveness", true);
  h->SetReady(false);
  return h;
}

HealthServer::~HealthServer() { Shutdown(); }

void HealthServer::SetReady(bool ready) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return;
  if (draining_) ready = false;
  auto* service = server_->GetHealthCheckService();
  service->SetServingStatus("", ready);
  service->SetServingStatus("readiness", ready);
}

void HealthServer::BeginDrain() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining_ = true;
  }
  SetReady(false);
}

void HealthServer::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_ || !server_) return;
    shut_down_ = true;
  }
  server_->GetHealthCheckService()->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(500));
}

Probe::Probe(store::Store* store, std::unique_ptr<queue::Admin> admin,
             HealthServer* health, GatewayMetrics* metrics,
             ProbeOptions options)
    : store_(store),
      admin_(std::move(admin)),
      health_(health),
      metrics_(metrics),
      options_(std::move(options)) {
  if (metrics_ && options_.tree_head_interval_seconds > 0) {
    metrics_->receipt_log_tree_head_interval->Get()->Set(
        options_.tree_head_interval_seconds);
  }
  if (options_.start_thread) {
    rounds_ = std::make_unique<PeriodicTask>(
        absl::Milliseconds(options_.interval_ms), [this] { RunOnce(); });
  }
}

Probe::~Probe() { rounds_.reset(); }

void Probe::BeginShutdown() {
  shutting_down_ = true;
  if (health_) health_->BeginDrain();
  if (metrics_) metrics_->ready->Set(0);
}

void Probe::RunOnce() {
  // Store: a cheap read of the outbox lag (an index range).
  auto lag = store_->GetOutboxLag();
  const bool store_up = lag.ok();
  if (store_up && metrics_) {
    metrics_->outbox_pending->Set(static_cast<double>(lag->pending));
    metrics_->outbox_oldest_age->Set(
        lag->pending == 0
            ? 0
            : std::max<int64_t>(0, NowMs() - lag->oldest_pending_ms) / 1000.0);
  }
  if (store_up && metrics_) ReadStoreGauges();
  if (store_up && metrics_ &&
      NowMs() - last_letters_ms_ >= options_.letters_interval_ms) {
    if (auto counts = store_->CountByState(); counts.ok()) {
      last_letters_ms_ = NowMs();
      for (int s = v1::Letter::State_MIN; s <= v1::Letter::State_MAX; ++s) {
        if (!v1::Letter::State_IsValid(s) || s == 0) continue;
        double n = 0;
        for (const auto& [state, count] : *counts) {
          if (state == s) n = static_cast<double>(count);
        }
        metrics_->letters
            ->WithLabels(
                {v1::Letter::State_Name(static_cast<v1::Letter::State>(s))})
            ->Set(n);
      }
    }
  }

  // Broker: a passive declare of every queue (depths and consumers). A
  // broker without our topology yet (fresh, or before the relay's first
  // round) is up all the same: declare it, then read again.
  auto stats = admin_->Stats(options_.topology);
  if (!stats.ok() && admin_->DeclareTopology(options_.topology).ok()) {
    stats = admin_->Stats(options_.topology);
  }
  const bool broker_up = stats.ok();
  if (broker_up && metrics_) {
    for (const auto& q : *stats) {
      metrics_->queue_messages->WithLabels({q.queue})->Set(
          static_cast<double>(q.messages));
      metrics_->queue_consumers->WithLabels({q.queue})->Set(
          static_cast<double>(q.consumers));
    }
  }

  if (store_up != store_up_.exchange(store_up)) {
    spdlog::log(
        store_up ? spdlog::level::info : spdlog::level::warn,
        "health: store {}",
        store_up ? "reachable" : "unreachable: " + lag.status().ToString());
  }
  if (broker_up != broker_up_.exchange(broker_up)) {
    spdlog::log(
        broker_up ? spdlog::level::info : spdlog::level::warn,
        "health: broker {}",
        broker_up ? "reachable" : "unreachable: " + stats.status().ToString());
  }
  const bool ready = store_up && broker_up && !shutting_down_;
  if (metrics_) {
    metrics_->dependency_up->WithLabels({"store"})->Set(store_up ? 1 : 0);
    metrics_->dependency_up->WithLabels({"broker"})->Set(broker_up ? 1 : 0);
    metrics_->ready->Set(ready ? 1 : 0);
  }
  if (health_) health_->SetReady(ready);
}

void Probe::ReadStoreGauges() {
  // Every channel with a delivery queue gets a series, 0 unless paused, so
  // that alerts can tell a deliberate pause from missing consumers.
  if (auto paused = store_->PausedChannels(); paused.ok()) {
    for (const std::string& stage : options_.topology.stages) {
      if (!absl::StartsWith(stage, "deliver.")) continue;
      const std::string channel = stage.substr(8);
      bool is_paused = false;
      for (const auto& p : *paused) {
        if (p.channel == channel) is_paused = true;
      }
      metrics_->channel_paused->WithLabels({channel})->Set(is_paused ? 1 : 0);
    }
  }
  if (auto size = store_->ReceiptLogSize(); size.ok()) {
    metrics_->receipt_log_size->Set(static_cast<double>(*size));
  }
  auto head = store_->LatestTreeHead();
  if (head.ok()) {
    metrics_->receipt_log_tree_head_size->Set(
        static_cast<double>(head->tree_size));
    metrics_->receipt_log_tree_head_age->Get()->Set(
        std::max<int64_t>(0, NowMs() - head->time_ms) / 1000.0);
  } else if (absl::IsNotFound(head.status())) {
    metrics_->receipt_log_tree_head_size->Set(0);
  }
}

}  // namespace utpost::observability
