// The outbox relay of every role: publishes what store transactions wrote
// to the outbox. When destroyed it first publishes what the last deliveries
// and submissions wrote, for up to half the shutdown grace and while the
// broker answers; what is left stays in the outbox for the next start.
#ifndef UTPOST_GATEWAY_RELAY_ROLE_H_
#define UTPOST_GATEWAY_RELAY_ROLE_H_

#include <functional>
#include <memory>

#include "gateway/dispatch/outbox_relay.h"
#include "gateway/store/store.h"
#include "queue/queue.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::gateway {

struct RelayRoleDeps {
  // Not owned; outlives the role.
  store::Store* store = nullptr;
  queue::Topology topology;
  // Called after rows were published and marked sent.
  std::function<void()> on_sent;
  // Whether the broker is known to be down (the last probe said so); the
  // final flush gives up then. Null: not known.
  std::function<bool()> broker_down;
};

// Thread-safe.
class RelayRole {
 public:
  // Starts the relay's thread; the broker need not be up.
  RelayRole(const config::v1::Config& config, RelayRoleDeps deps);
  // The final flush (see above), then the relay stops.
  ~RelayRole();

  // Publish now rather than at the next poll.
  void Wake() { relay_->Wake(); }

 private:
  const RelayRoleDeps deps_;
  const int shutdown_grace_seconds_;
  std::unique_ptr<dispatch::OutboxRelay> relay_;
};

}  // namespace utpost::gateway

#endif  // UTPOST_GATEWAY_RELAY_ROLE_H_
