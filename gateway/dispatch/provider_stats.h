// Provider figures across processes: a ChannelObserver that sums sends,
// errors and latency per channel in memory, and a recorder that flushes
// those sums to the store every few seconds, so that an api process can
// report what every worker process saw (OpsService.GetStatus).
#ifndef UTPOST_GATEWAY_DISPATCH_PROVIDER_STATS_H_
#define UTPOST_GATEWAY_DISPATCH_PROVIDER_STATS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/instrumented_channel.h"
#include "common/clock.h"
#include "common/periodic.h"
#include "gateway/store/store.h"

namespace utpost::dispatch {

// Thread-safe.
class ProviderStats final : public adapters::ChannelObserver {
 public:
  explicit ProviderStats(Clock* clock = nullptr);

  void OnSend(const std::string& channel, absl::Duration latency,
              const absl::Status& status) override;

  // The sums since the last call (or construction), one row per channel
  // that saw a send, stamped with `process_id`; then starts a new window.
  std::vector<store::ProviderStatsRecord> TakeWindow(
      const std::string& process_id);

 private:
  Clock* const clock_;
  absl::Mutex mu_;
  int64_t window_start_ms_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, store::ProviderStatsRecord> by_channel_
      ABSL_GUARDED_BY(mu_);
};

// Flushes `stats` to `store` every `interval` on its own thread (the first
// after one interval), and once more when destroyed. Neither is owned; both
// outlive this.
class ProviderStatsRecorder {
 public:
  ProviderStatsRecorder(store::Store* store, ProviderStats* stats,
                        std::string process_id, absl::Duration interval);
  ~ProviderStatsRecorder();

 private:
  void Flush();

  store::Store* const store_;
  ProviderStats* const stats_;
  const std::string process_id_;
  std::unique_ptr<PeriodicTask> flushes_;
};

// "<host>:<pid>", naming this process in the figures.
std::string ThisProcessId();

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_PROVIDER_STATS_H_
