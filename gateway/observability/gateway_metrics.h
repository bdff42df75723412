// The gateway's Prometheus metrics, in one registry, and the hooks that feed
// them: a channel observer (provider sends), a gRPC server interceptor
// (requests by method and code) and setters for what probes read (queues,
// outbox, letters per state, certificates).
//
// Label values are bounded: tenants are the configured organisation
// numbers, channels and stages are Utpost's own names, states and gRPC
// codes are enums, methods are the registered ones. No letter ids, person
// numbers or trace ids. Each family also caps its series (see
// common/metrics/registry.h).
#ifndef UTPOST_GATEWAY_OBSERVABILITY_GATEWAY_METRICS_H_
#define UTPOST_GATEWAY_OBSERVABILITY_GATEWAY_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "adapters/instrumented_channel.h"
#include "common/metrics/registry.h"
#include "grpcpp/support/server_interceptor.h"

namespace utpost::observability {

// Metric families. Thread-safe; all pointers owned by `registry`.
struct GatewayMetrics {
  GatewayMetrics();

  metrics::Registry registry;
  // {tenant, channel, state}: receipts written (state changes). Channel is
  // "none" before routing.
  metrics::Family<metrics::Counter>* transitions;
  // {channel}: submission to DELIVERED (digital) or SENT_PRINT (print).
  metrics::Family<metrics::Histogram>* delivery_latency;
  // {stage}: retries scheduled after a failed attempt.
  metrics::Family<metrics::Counter>* retries;
  // {channel, result}: provider sends; result "ok" or an error class.
  metrics::Family<metrics::Counter>* provider_requests;
  // {channel, class}: provider errors, class "transient", "refusal" (the
  // provider refuses the letter) or "setup" (credentials, addresses).
  metrics::Family<metrics::Counter>* provider_errors;
  // {channel}
  metrics::Family<metrics::Histogram>* provider_latency;
  // {method, code}
  metrics::Family<metrics::Counter>* grpc_requests;
  // {method}
  metrics::Family<metrics::Histogram>* grpc_latency;
  // {queue}
  metrics::Family<metrics::Gauge>* queue_messages;
  metrics::Family<metrics::Gauge>* queue_consumers;
  metrics::Gauge* outbox_pending;
  metrics::Gauge* outbox_oldest_age;
  // {state}: letters in each state now, over all tenants.
  metrics::Family<metrics::Gauge>* letters;
  // {dependency}: 1 when the last probe of "store" / "broker" succeeded.
  metrics::Family<metrics::Gauge>* dependency_up;
  metrics::Gauge* ready;
  // {certificate}: notAfter of the earliest-expiring certificate in each
  // configured certificate file, as a Unix time.
  metrics::Family<metrics::Gauge>* certificate_expiry;
  // {version, grpc_version}: always 1; the labels say what runs.
  metrics::Family<metrics::Gauge>* build_info;
  // {channel}: 1 while an operator has paused the channel (utpostctl
  // pause), else 0; for every channel with a delivery queue.
  metrics::Family<metrics::Gauge>* channel_paused;
  // Leaves in the receipt log now.
  metrics::Gauge* receipt_log_size;
  // Tree size of the newest signed tree head (0 before the first).
  metrics::Gauge* receipt_log_tree_head_size;
  // Seconds since the newest signed tree head was signed. No series until
  // a head exists (see receipt_log_tree_head_size).
  metrics::Family<metrics::Gauge>* receipt_log_tree_head_age;
  // How often a head is signed while the log grows (configuration).
  metrics::Family<metrics::Gauge>* receipt_log_tree_head_interval;
};

// The version utpostd was built as (the CMake project version).
const char* BuildVersion();

// "transient", "refusal" or "setup" for a failed provider call (see
// adapters/channel.h); "ok" for OK.
std::string ErrorClass(const absl::Status& status);

// Feeds provider_requests, provider_errors and provider_latency.
class ProviderMetrics final : public adapters::ChannelObserver {
 public:
  explicit ProviderMetrics(GatewayMetrics* metrics) : metrics_(metrics) {}
  void OnSend(const std::string& channel, absl::Duration latency,
              const absl::Status& status) override;

 private:
  GatewayMetrics* const metrics_;
};

// Counts and times every RPC of the server it is installed on, by method
// and status code. Methods outside utpost.* and grpc.* count as "other".
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewGrpcMetricsInterceptorFactory(GatewayMetrics* metrics);

// The canonical name of a gRPC status code ("OK", "INVALID_ARGUMENT").
std::string GrpcCodeName(int code);

}  // namespace utpost::observability

#endif  // UTPOST_GATEWAY_OBSERVABILITY_GATEWAY_METRICS_H_
