// Readiness and liveness: probes the store and the broker about once a
// second and reports through grpc.health.v1.Health (a server of its own on
// a plain-text port, for Kubernetes probes) and metrics. The same probe
// refreshes the gauges read from outside the process: queue depths and
// consumers, outbox lag, letters per state, paused channels, the receipt
// log's size and its newest signed tree head.
//
// Health services: "liveness" is SERVING while the process runs; "" and
// "readiness" are SERVING while the last store read and broker call
// succeeded and no shutdown has begun.
#ifndef UTPOST_GATEWAY_OBSERVABILITY_HEALTH_H_
#define UTPOST_GATEWAY_OBSERVABILITY_HEALTH_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/periodic.h"
#include "gateway/observability/gateway_metrics.h"
#include "gateway/store/store.h"
#include "grpcpp/grpcpp.h"
#include "queue/queue.h"

namespace utpost::observability {

// Bounds on the health port's clients (Observability in config.proto).
struct HealthServerLimits {
  // A connection that has not completed its HTTP/2 start (preface and
  // settings) within this is closed. Default 2 s.
  int64_t handshake_timeout_ms = 2000;
  // A connection without calls for this long is closed. Default 60 s.
  int64_t max_connection_idle_ms = 60000;
  // Calls at once on one connection. Default 16.
  int max_concurrent_streams = 16;
  // Threads the server may use for calls. Default 8.
  int max_threads = 8;
  // Pings an idle client this often to find dead peers; a ping unanswered
  // within 10 s closes the connection. Default 30 s.
  int64_t keepalive_time_ms = 30000;
};

// A gRPC server with only the standard health service on `listen`, plain
// text. Starts SERVING "liveness", NOT_SERVING "" and "readiness". Start it
// before other servers are built: it switches gRPC's process-wide default
// health service on for itself and off again.
class HealthServer {
 public:
  // INVALID_ARGUMENT when `listen` cannot be bound.
  // Limits of 0 or less take their defaults.
  static absl::StatusOr<std::unique_ptr<HealthServer>> Start(
      const std::string& listen, HealthServerLimits limits = {});
  ~HealthServer();

  int port() const { return port_; }
  // Readiness SERVING or NOT_SERVING; ignored (NOT_SERVING) once draining.
  void SetReady(bool ready);
  // Readiness NOT_SERVING from now on; liveness stays SERVING.
  void BeginDrain();
  // Everything NOT_SERVING and the server stopped.
  void Shutdown();

 private:
  HealthServer() = default;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

struct ProbeOptions {
  queue::Topology topology;
  int interval_ms = 1000;
  // Letters per state is a count over the whole letters table: rarer.
  int letters_interval_ms = 5000;
  // receipt_log.tree_head_interval_seconds, exported as a gauge so that
  // the stale-head alert scales with it; 0 exports nothing.
  int tree_head_interval_seconds = 0;
  // False: no thread; the owner calls RunOnce (tests).
  bool start_thread = true;
};

// Runs the probes on its own thread, the first round at once. Nothing is owned
// but `admin`; the rest outlive this. `health` and `metrics` may be null.
class Probe {
 public:
  Probe(store::Store* store, std::unique_ptr<queue::Admin> admin,
        HealthServer* health, GatewayMetrics* metrics, ProbeOptions options);
  ~Probe();

  // Readiness NOT_SERVING from now on, whatever the probes say.
  void BeginShutdown();
  // Results of the last probe round.
  bool store_up() const { return store_up_; }
  bool broker_up() const { return broker_up_; }
  // Runs one round now. Only without the thread (see ProbeOptions).
  void RunOnce();

 private:
  // Paused channels and the receipt log, from the store.
  void ReadStoreGauges();

  store::Store* const store_;
  std::unique_ptr<queue::Admin> admin_;
  HealthServer* const health_;
  GatewayMetrics* const metrics_;
  const ProbeOptions options_;
  std::atomic<bool> store_up_{false};
  std::atomic<bool> broker_up_{false};
  std::atomic<bool> shutting_down_{false};
  int64_t last_letters_ms_ = 0;           // Probe thread only.
  std::unique_ptr<PeriodicTask> rounds_;  // Null without the thread.
};

}  // namespace utpost::observability

#endif  // UTPOST_GATEWAY_OBSERVABILITY_HEALTH_H_
