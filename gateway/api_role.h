// The api role: the tenants' and operators' gRPC services (letters,
// operations, the receipt log) on one mTLS server, and the sandbox that
// inspects the tenants' documents.
#ifndef UTPOST_GATEWAY_API_ROLE_H_
#define UTPOST_GATEWAY_API_ROLE_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/letter_watchers.h"
#include "gateway/observability/gateway_metrics.h"
#include "gateway/outside_world.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/store.h"
#include "queue/queue.h"
#include "utpost/config/v1/config.pb.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace utpost::api {
class LetterServiceImpl;
class PreflightService;
class OpsServiceImpl;
class ReceiptLogServiceImpl;
class StatsServiceImpl;
}  // namespace utpost::api

namespace utpost::inspect {
class SandboxedInspector;
}  // namespace utpost::inspect

namespace utpost::gateway {

// Not owned; all outlive the role.
struct ApiRoleDeps {
  store::Store* store = nullptr;
  receipts::ReceiptSigner* signer = nullptr;
  observability::GatewayMetrics* metrics = nullptr;
  // The letter service is attached here once it is complete.
  LetterWatchers* watchers = nullptr;
  queue::Topology topology;
  // Publish the outbox now (after a commit).
  std::function<void()> wake_relay;
  // The registries and channels, for PreflightLetters.
  const OutsideWorld* outside = nullptr;
};

class ApiRole {
 public:
  // Builds the services and starts listening on `server.listen`; prints
  // the "utpostd listening on host:port" line tests and scripts read.
  // INVALID_ARGUMENT naming the setting: an unreadable key or certificate,
  // an address that cannot be bound, an inspector that cannot start.
  static absl::StatusOr<std::unique_ptr<ApiRole>> Start(
      const config::v1::Config& config, ApiRoleDeps deps);
  // StopAccepting (if not done), detaches the watchers, then takes the
  // services down; documents being inspected finish within their deadline.
  ~ApiRole();

  // No new RPCs; those in flight get until `grace` has passed (watch
  // streams end), then are cancelled. Returns when none is left.
  // Idempotent.
  void StopAccepting(absl::Duration grace);

 private:
  explicit ApiRole(LetterWatchers* watchers);

  // In dependency order: each may use those above it, so the implicit
  // destructor takes the server down first and the inspector last.
  LetterWatchers* const watchers_;
  std::unique_ptr<inspect::SandboxedInspector> inspector_;
  // PreflightLetters; uses the inspector and the registries.
  std::unique_ptr<api::PreflightService> preflight_;
  std::unique_ptr<api::LetterServiceImpl> letters_;
  std::unique_ptr<api::OpsServiceImpl> ops_;
  std::unique_ptr<api::ReceiptLogServiceImpl> receipt_log_;
  std::unique_ptr<api::StatsServiceImpl> stats_;
  std::unique_ptr<grpc::Server> server_;
  bool stopped_accepting_ = false;
};

}  // namespace utpost::gateway

#endif  // UTPOST_GATEWAY_API_ROLE_H_
