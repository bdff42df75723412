#include "gateway/maintenance.h"

#include <cstdint>
#include <utility>

#include "absl/time/time.h"
#include "common/clock.h"
#include "spdlog/spdlog.h"

namespace utpost::gateway {
namespace {

// Letters purged per store call; a sweep goes on while calls come back full.
constexpr int kPurgeBatch = 500;

}  // namespace

std::unique_ptr<PeriodicTask> StartSequencer(
    store::Store* store, std::function<void()> on_sequenced) {
  return std::make_unique<PeriodicTask>(
      PeriodicTaskOptions{absl::Milliseconds(100), absl::ZeroDuration()},
      [store, on_sequenced = std::move(on_sequenced)] {
        auto n = store->SequenceReceipts();
        if (!n.ok()) {
          spdlog::warn("receipt log: sequencer: {}", n.status().ToString());
          return;
        }
        if (*n > 0) on_sequenced();
      });
}

std::unique_ptr<PeriodicTask> StartTreeHeads(const config::v1::Config& config,
                                             store::Store* store) {
  const absl::Duration interval =
      absl::Seconds(config.receipt_log().tree_head_interval_seconds());
  return std::make_unique<PeriodicTask>(
      PeriodicTaskOptions{interval, interval}, [store] {
        auto head = store->IssueTreeHead();
        if (!head.ok()) {
          spdlog::warn("receipt log: no tree head: {}",
                       head.status().ToString());
        }
      });
}

std::unique_ptr<PeriodicTask> StartRetention(const config::v1::Config& config,
                                             store::Store* store) {
  if (config.retention().documents_days() <= 0) return nullptr;
  const int64_t keep_ms =
      int64_t{config.retention().documents_days()} * 24 * 3600 * 1000;
  const absl::Duration interval =
      absl::Seconds(config.retention().sweep_interval_seconds());
  return std::make_unique<PeriodicTask>(
      PeriodicTaskOptions{interval, interval}, [store, keep_ms] {
        while (true) {
          auto n = store->PurgeDocuments(RealClock()->NowMillis() - keep_ms,
                                         kPurgeBatch);
          if (!n.ok()) {
            spdlog::warn("retention: {}", n.status().ToString());
            return;
          }
          if (*n > 0) spdlog::info("retention: purged {} letters", *n);
          if (*n < kPurgeBatch) return;
        }
      });
}

std::unique_ptr<PeriodicTask> StartUploadSweep(const config::v1::Config& config,
                                               store::Store* store) {
  const absl::Duration interval =
      absl::Seconds(config.retention().sweep_interval_seconds());
  return std::make_unique<PeriodicTask>(
      PeriodicTaskOptions{interval, interval}, [store] {
        auto n = store->DeleteExpiredUploads();
        if (!n.ok()) {
          spdlog::warn("uploads: {}", n.status().ToString());
        } else if (*n > 0) {
          spdlog::info("uploads: deleted {} expired", *n);
        }
      });
}

}  // namespace utpost::gateway
