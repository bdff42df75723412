// GET /metrics over plain HTTP/1.1 on its own thread: the registry in the
// Prometheus text format 0.0.4. Any other path is 404, any other method
// 405.
//
// A small server of its own (one thread, non-blocking sockets, poll()),
// so that slow or stalled clients cost nothing but a file descriptor until
// their deadline: a request's headers must arrive within the read timeout
// (counted from the connection, or from the previous answer on a kept-alive
// one, however slowly they trickle), an answer must be taken within the
// write timeout, and at most `max_connections` are open at once (a new one
// beyond that closes the one that has waited longest for its request, so
// a scraper always gets in). Request bodies are not read: a request that
// announces one is answered and its connection closed.
#ifndef UTPOST_GATEWAY_OBSERVABILITY_METRICS_HTTP_H_
#define UTPOST_GATEWAY_OBSERVABILITY_METRICS_HTTP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/metrics/registry.h"

namespace utpost::observability {

// Bounds on the metrics server's clients (Observability in config.proto).
struct HttpServerLimits {
  // Time a client has to send a request's headers: from its connection,
  // or from the previous answer on a kept-alive connection. Default 2 s.
  int64_t read_timeout_ms = 2000;
  // Time a client has to take an answer. Default 2 s.
  int64_t write_timeout_ms = 2000;
  // Connections open at once. Default 64.
  int max_connections = 64;
  // Requests answered on one connection before it is closed. Default 100.
  int keep_alive_max_requests = 100;
  // A request's line and headers together; larger: 431. Default 8 KiB.
  int max_request_bytes = 8192;
};

class MetricsHttpServer {
 public:
  // Serves `registry` (not owned; outlives this) on `listen` ("host:port",
  // port 0 picks one). `before_scrape`, when set, runs before each scrape.
  // Limits of 0 or less take their defaults. INVALID_ARGUMENT when
  // `listen` cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, const metrics::Registry* registry,
      std::function<void()> before_scrape = nullptr,
      HttpServerLimits limits = {});
  // Stops serving, closes every connection and joins.
  ~MetricsHttpServer();

  int port() const { return port_; }

 private:
  class Loop;
  MetricsHttpServer() = default;
  std::unique_ptr<Loop> loop_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace utpost::observability

#endif  // UTPOST_GATEWAY_OBSERVABILITY_METRICS_HTTP_H_
