#include "gateway/observability/gateway_metrics.h"

#include <chrono>

#include "absl/strings/match.h"
#include "grpcpp/grpcpp.h"

namespace utpost::observability {
namespace {

using metrics::ExponentialBuckets;

// From 50 ms to a day: a letter may wait hours in retries.
std::vector<double> DeliveryBuckets() {
  return {0.05, 0.1, 0.25, 0.5, 1,    2.5,   5,    10,
          30,   60,  300,  900, 3600, 14400, 86400};
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(GatewayMetrics* metrics, std::string method)
      : metrics_(metrics),
        method_(std::move(method)),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      const double seconds = std::chrono::duration<double>(
                                 std::chrono::steady_clock::now() - start_)
                                 .count();
      metrics_->grpc_requests
          ->WithLabels({method_, GrpcCodeName(status.error_code())})
          ->Increment();
      metrics_->grpc_latency->WithLabels({method_})->Observe(seconds);
    }
    methods->Proceed();
  }

 private:
  GatewayMetrics* const metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GatewayMetrics* metrics)
      : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    std::string method = info->method() ? info->method() : "";
    // Unknown methods carry whatever name a client sent: not a label.
    if (!absl::StartsWith(method, "/utpost.") &&
        !absl::StartsWith(method, "/grpc.")) {
      method = "other";
    }
    return new MetricsInterceptor(metrics_, std::move(method));
  }

 private:
  GatewayMetrics* const metrics_;
};

}  // namespace

GatewayMetrics::GatewayMetrics() {
  transitions = registry.AddCounter(
      "utpost_letter_transitions_total",
      "Letter state changes (one signed receipt each), by tenant, channel "
      "and the state reached.",
      {"tenant", "channel", "state"});
  delivery_latency = registry.AddHistogram(
      "utpost_delivery_latency_seconds",
      "Time from submission to DELIVERED (digital) or SENT_PRINT (print).",
      {"channel"}, DeliveryBuckets());
  retries = registry.AddCounter(
      "utpost_retries_total",
      "Retries scheduled after a failed attempt, by stage.", {"stage"});
  provider_requests = registry.AddCounter(
      "utpost_provider_requests_total",
      "Sends to providers, by channel and result (ok, transient, refusal, "
      "setup).",
      {"channel", "result"});
  provider_errors = registry.AddCounter(
      "utpost_provider_errors_total",
      "Failed sends to providers, by channel and class: transient (retried), "
      "refusal (the letter is refused), setup (credentials, addresses).",
      {"channel", "class"});
  provider_latency =
      registry.AddHistogram("utpost_provider_request_duration_seconds",
                            "Duration of sends to providers, by channel.",
                            {"channel"}, ExponentialBuckets(0.005, 2, 14));
  grpc_requests = registry.AddCounter(
      "utpost_grpc_requests_total",
      "gRPC requests handled, by method and status code.", {"method", "code"});
  grpc_latency = registry.AddHistogram(
      "utpost_grpc_request_duration_seconds",
      "gRPC request duration until the status is sent, by method.", {"method"},
      ExponentialBuckets(0.0005, 2, 16));
  queue_messages =
      registry.AddGauge("utpost_queue_messages",
                        "Messages ready in each broker queue.", {"queue"});
  queue_consumers = registry.AddGauge(
      "utpost_queue_consumers", "Consumers of each broker queue.", {"queue"});
  outbox_pending =
      registry
          .AddGauge("utpost_outbox_pending",
                    "Outbox rows written but not yet confirmed by the broker.")
          ->Get();
  outbox_oldest_age =
      registry
          .AddGauge("utpost_outbox_oldest_age_seconds",
                    "Age of the oldest unconfirmed outbox row (0 when none).")
          ->Get();
  letters = registry.AddGauge("utpost_letters",
                              "Letters in each state now, over all tenants.",
                              {"state"});
  dependency_up = registry.AddGauge(
      "utpost_dependency_up",
      "1 when the last probe of a dependency (store, broker) succeeded.",
      {"dependency"});
  ready = registry
              .AddGauge("utpost_ready",
                        "1 while readiness is SERVING (dependencies up, not "
                        "shutting down).")
              ->Get();
  certificate_expiry = registry.AddGauge(
      "utpost_certificate_expiry_timestamp_seconds",
      "Expiry (notAfter, Unix time) of the earliest-expiring certificate in "
      "each configured certificate file.",
      {"certificate"});
  build_info = registry.AddGauge(
      "utpost_build_info",
      "Always 1; the labels name the utpostd version and its gRPC library.",
      {"version", "grpc_version"});
  build_info->WithLabels({BuildVersion(), grpc::Version()})->Set(1);
  channel_paused = registry.AddGauge(
      "utpost_channel_paused",
      "1 while an operator has paused delivery on the channel, else 0.",
      {"channel"});
  receipt_log_size =
      registry
          .AddGauge("utpost_receipt_log_size", "Leaves in the receipt log.")
          ->Get();
  receipt_log_tree_head_size =
      registry
          .AddGauge("utpost_receipt_log_tree_head_size",
                    "Tree size of the newest signed tree head (0 before the "
                    "first).")
          ->Get();
  receipt_log_tree_head_age = registry.AddGauge(
      "utpost_receipt_log_tree_head_age_seconds",
      "Seconds since the newest signed tree head was signed (absent before "
      "the first).");
  receipt_log_tree_head_interval = registry.AddGauge(
      "utpost_receipt_log_tree_head_interval_seconds",
      "How often a tree head is signed while the receipt log grows "
      "(receipt_log.tree_head_interval_seconds).");
}

const char* BuildVersion() { return UTPOST_VERSION; }

std::string ErrorClass(const absl::Status& status) {
  if (status.ok()) return "ok";
  if (adapters::IsTransient(status)) return "transient";
  if (adapters::IsLetterRefusal(status)) return "refusal";
  return "setup";
}

void ProviderMetrics::OnSend(const std::string& channel, absl::Duration latency,
                             const absl::Status& status) {
  const std::string result = ErrorClass(status);
  metrics_->provider_requests->WithLabels({channel, result})->Increment();
  if (!status.ok()) {
    metrics_->provider_errors->WithLabels({channel, result})->Increment();
  }
  metrics_->provider_latency->WithLabels({channel})->Observe(
      absl::ToDoubleSeconds(latency));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewGrpcMetricsInterceptorFactory(GatewayMetrics* metrics) {
  return std::make_unique<MetricsInterceptorFactory>(metrics);
}

std::string GrpcCodeName(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) {
    return kNames[code];
  }
  return "UNKNOWN";
}

}  // namespace utpost::observability
