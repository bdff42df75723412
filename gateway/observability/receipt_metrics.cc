#include "gateway/observability/receipt_metrics.h"

#include <memory>

#include "spdlog/spdlog.h"

namespace utpost::observability {
namespace {

using v1::Letter;

constexpr int kBatch = 1000;

std::string ChannelLabel(const std::string& channel) {
  return channel.empty() ? "none" : channel;
}

}  // namespace

ReceiptMetrics::ReceiptMetrics(store::Store* store, GatewayMetrics* metrics,
                               bool start_thread, int poll_ms)
    : store_(store), metrics_(metrics) {
  if (start_thread) {
    polls_ = std::make_unique<PeriodicTask>(absl::Milliseconds(poll_ms),
                                            [this] { PollOnce(); });
  }
}

ReceiptMetrics::~ReceiptMetrics() { polls_.reset(); }

void ReceiptMetrics::Wake() {
  if (polls_) polls_->Wake();
}

void ReceiptMetrics::PollOnce() {
  std::lock_guard<std::mutex> lock(poll_mu_);
  if (!started_) {
    // The store's totals so far, then what follows them; the store may be
    // down at first.
    auto totals = store_->CountTransitions();
    if (!totals.ok()) return;
    for (const auto& t : totals->counts) {
      metrics_->transitions
          ->WithLabels(
              {t.tenant, ChannelLabel(t.channel), Letter::State_Name(t.state)})
          ->Increment(static_cast<double>(t.count));
    }
    cursor_ = totals->cursor;
    started_ = true;
  }
  while (true) {
    auto batch = store_->TransitionsAfter(cursor_, kBatch);
    if (!batch.ok()) {
      spdlog::debug("metrics: cannot read receipts: {}",
                    batch.status().ToString());
      return;
    }
    for (const auto& t : *batch) {
      Count(t);
      cursor_ = t.cursor;
    }
    if (batch->size() < static_cast<size_t>(kBatch)) return;
  }
}

void ReceiptMetrics::Count(const store::Store::TransitionNote& t) {
  const std::string channel = ChannelLabel(t.channel);
  metrics_->transitions
      ->WithLabels({t.tenant, channel, Letter::State_Name(t.state)})
      ->Increment();
  if (t.state == Letter::DELIVERED || t.state == Letter::SENT_PRINT) {
    const double seconds = static_cast<double>(std::max<int64_t>(
                               0, t.time_ms - t.letter_create_time_ms)) /
                           1000.0;
    metrics_->delivery_latency->WithLabels({channel})->Observe(seconds);
  }
}

}  // namespace utpost::observability
