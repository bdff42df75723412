#include "gateway/relay_role.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "gateway/settings.h"
#include "queue/amqp_broker.h"

namespace utpost::gateway {

RelayRole::RelayRole(const config::v1::Config& config, RelayRoleDeps deps)
    : deps_(std::move(deps)),
      shutdown_grace_seconds_(config.observability().shutdown_grace_seconds()) {
  dispatch::OutboxRelayOptions options;
  options.topology = deps_.topology;
  options.on_sent = deps_.on_sent;
  relay_ = std::make_unique<dispatch::OutboxRelay>(
      deps_.store, queue::NewAmqpPublisher(BrokerOptionsOf(config, "relay")),
      queue::NewAmqpAdmin(BrokerOptionsOf(config, "relay-admin")),
      std::move(options));
}

RelayRole::~RelayRole() {
  const auto flush_until =
      std::chrono::steady_clock::now() +
      std::chrono::seconds(std::max(1, shutdown_grace_seconds_ / 2));
  while (std::chrono::steady_clock::now() < flush_until) {
    auto lag = deps_.store->GetOutboxLag();
    if (!lag.ok() || lag->pending == 0) break;
    if (deps_.broker_down && deps_.broker_down()) break;
    relay_->Wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  relay_.reset();
}

}  // namespace utpost::gateway
