#include "gateway/shutdown_watchdog.h"

#include <unistd.h>

#include "spdlog/spdlog.h"

namespace utpost::gateway {

ShutdownWatchdog::ShutdownWatchdog(absl::Duration limit)
    : thread_([this, limit] {
        if (done_.WaitForNotificationWithTimeout(limit)) return;
        spdlog::warn(
            "shutdown took longer than {} s; exiting with unfinished work "
            "left queued",
            absl::ToInt64Seconds(limit));
        spdlog::default_logger()->flush();
        _exit(0);
      }) {}

ShutdownWatchdog::~ShutdownWatchdog() {
  done_.Notify();
  thread_.join();
}

}  // namespace utpost::gateway
