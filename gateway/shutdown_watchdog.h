// Ends the process if a graceful shutdown takes longer than allowed.
// Whatever was in hand is safe: unacked deliveries return to their queues
// when the connections close, unpublished work stays in the outbox.
#ifndef UTPOST_GATEWAY_SHUTDOWN_WATCHDOG_H_
#define UTPOST_GATEWAY_SHUTDOWN_WATCHDOG_H_

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace utpost::gateway {

class ShutdownWatchdog {
 public:
  // Starts counting: unless destroyed within `limit`, logs a warning and
  // exits the process with status 0.
  explicit ShutdownWatchdog(absl::Duration limit);
  ShutdownWatchdog(const ShutdownWatchdog&) = delete;
  ShutdownWatchdog& operator=(const ShutdownWatchdog&) = delete;
  // The shutdown finished in time: stops counting and joins.
  ~ShutdownWatchdog();

 private:
  absl::Notification done_;
  std::thread thread_;  // Last: starts once done_ is there.
};

}  // namespace utpost::gateway

#endif  // UTPOST_GATEWAY_SHUTDOWN_WATCHDOG_H_
