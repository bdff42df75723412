#include "gateway/dispatch/provider_stats.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/mask.h"
#include "spdlog/spdlog.h"

namespace utpost::dispatch {

ProviderStats::ProviderStats(Clock* clock)
    : clock_(clock != nullptr ? clock : RealClock()),
      window_start_ms_(clock_->NowMillis()) {}

void ProviderStats::OnSend(const std::string& channel, absl::Duration latency,
                           const absl::Status& status) {
  const int64_t us = absl::ToInt64Microseconds(latency);
  absl::MutexLock lock(&mu_);
  store::ProviderStatsRecord& r = by_channel_[channel];
  r.channel = channel;
  ++r.sends;
  r.latency_sum_us += us;
  r.latency_max_us = std::max(r.latency_max_us, us);
  if (!status.ok()) {
    ++r.errors;
    // Provider answers may quote the letter; never a person number.
    r.last_error = MaskPersonNumbersIn(status.ToString());
  }
}

std::vector<store::ProviderStatsRecord> ProviderStats::TakeWindow(
    const std::string& process_id) {
  const int64_t now = clock_->NowMillis();
  std::map<std::string, store::ProviderStatsRecord> taken;
  int64_t start = 0;
  {
    absl::MutexLock lock(&mu_);
    taken.swap(by_channel_);
    start = window_start_ms_;
    window_start_ms_ = now;
  }
  std::vector<store::ProviderStatsRecord> out;
  for (auto& [channel, r] : taken) {
    r.process_id = process_id;
    r.window_start_ms = start;
    r.window_end_ms = now;
    out.push_back(std::move(r));
  }
  return out;
}

ProviderStatsRecorder::ProviderStatsRecorder(store::Store* store,
                                             ProviderStats* stats,
                                             std::string process_id,
                                             absl::Duration interval)
    : store_(store),
      stats_(stats),
      process_id_(std::move(process_id)),
      flushes_(std::make_unique<PeriodicTask>(
          PeriodicTaskOptions{interval, interval}, [this] { Flush(); })) {}

ProviderStatsRecorder::~ProviderStatsRecorder() {
  flushes_.reset();
  // What the last sends added since the last flush.
  Flush();
}

void ProviderStatsRecorder::Flush() {
  std::vector<store::ProviderStatsRecord> rows =
      stats_->TakeWindow(process_id_);
  if (rows.empty()) return;
  // Figures are best effort: a store that cannot take them now loses one
  // window, never a letter.
  if (auto s = store_->WriteProviderStats(rows); !s.ok()) {
    spdlog::warn("provider figures not stored: {}", s.ToString());
  }
}

std::string ThisProcessId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host, ":", getpid());
}

}  // namespace utpost::dispatch
