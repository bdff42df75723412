// utpostd as a whole: wires the store, the receipt signer, the broker, the
// adapters and the gRPC services together for the configured role, runs
// until told to stop, then shuts down in order: stop taking work, finish
// what is in hand; what is committed but not yet published waits in the
// outbox for the next start.
#ifndef UTPOST_GATEWAY_DAEMON_H_
#define UTPOST_GATEWAY_DAEMON_H_

#include <functional>

#include "absl/status/status.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost {

// Starts every part of `config.role()`, calls `wait_for_stop` (which blocks
// until a signal, say), then shuts down. Returns an error only for bad
// configuration found at start-up (unreadable keys, a port in use); network
// failures are retried, never fatal.
absl::Status RunDaemon(const config::v1::Config& config,
                       const std::function<void()>& wait_for_stop);

}  // namespace utpost

#endif  // UTPOST_GATEWAY_DAEMON_H_
