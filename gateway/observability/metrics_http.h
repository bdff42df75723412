// GET /metrics over plain HTTP (cpp-httplib) on its own thread: the
// registry in the Prometheus text format 0.0.4. Any other path is 404.
#ifndef UTPOST_GATEWAY_OBSERVABILITY_METRICS_HTTP_H_
#define UTPOST_GATEWAY_OBSERVABILITY_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/metrics/registry.h"

namespace httplib {
class Server;
}

namespace utpost::observability {

class MetricsHttpServer {
 public:
  // Serves `registry` (not owned; outlives this) on `listen` ("host:port",
  // port 0 picks one). `before_scrape`, when set, runs before each scrape.
  // INVALID_ARGUMENT when `listen` cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, const metrics::Registry* registry,
      std::function<void()> before_scrape = nullptr);
  // Stops serving and joins.
  ~MetricsHttpServer();

  int port() const { return port_; }

 private:
  MetricsHttpServer();
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace utpost::observability

#endif  // UTPOST_GATEWAY_OBSERVABILITY_METRICS_HTTP_H_
