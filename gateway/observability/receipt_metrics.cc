#include "gateway/observability/receipt_metrics.h"

#include <chrono>

#include "spdlog/spdlog.h"

namespace utpost::observability {
namespace {

using v1::Letter;

constexpr size_t kMaxRemembered = 200000;
constexpr int kBatch = 1000;

}  // namespace

ReceiptMetrics::ReceiptMetrics(store::Store* store, GatewayMetrics* metrics,
                               bool start_thread, int poll_ms)
    : store_(store), metrics_(metrics), poll_ms_(poll_ms) {
  if (start_thread) thread_ = std::thread([this] { Loop(); });
}

ReceiptMetrics::~ReceiptMetrics() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ReceiptMetrics::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void ReceiptMetrics::Loop() {
  while (true) {
    PollOnce();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(poll_ms_),
                 [this] { return woken_ || stopping_; });
    if (stopping_) return;
    woken_ = false;
  }
}

void ReceiptMetrics::PollOnce() {
  std::lock_guard<std::mutex> lock(poll_mu_);
  if (!started_) {
    // Only what happens from now on; the store may be down at first.
    auto last = store_->LastReceiptCursor();
    if (!last.ok()) return;
    cursor_ = *last;
    started_ = true;
  }
  while (true) {
    auto batch = store_->ReceiptsAfter(cursor_, "", kBatch);
    if (!batch.ok()) {
      spdlog::debug("metrics: cannot read receipts: {}",
                    batch.status().ToString());
      return;
    }
    for (const auto& r : *batch) {
      Count(r);
      cursor_ = r.cursor;
    }
    if (batch->size() < static_cast<size_t>(kBatch)) return;
  }
}

void ReceiptMetrics::Count(const store::ReceiptRecord& r) {
  const std::string channel = r.channel.empty() ? "none" : r.channel;
  metrics_->transitions
      ->WithLabels({r.tenant, channel, Letter::State_Name(r.state)})
      ->Increment();
  if (r.state == Letter::RECEIVED) {
    if (received_ms_.size() >= kMaxRemembered) received_ms_.clear();
    received_ms_[r.letter_id] = r.time_ms;
    return;
  }
  const bool delivered =
      r.state == Letter::DELIVERED || r.state == Letter::SENT_PRINT;
  if (!delivered) {
    if (r.state == Letter::FAILED || r.state == Letter::CANCELLED) {
      received_ms_.erase(r.letter_id);
    }
    return;
  }
  int64_t submitted_ms = 0;
  if (auto it = received_ms_.find(r.letter_id); it != received_ms_.end()) {
    submitted_ms = it->second;
    received_ms_.erase(it);
  } else {
    auto letter = store_->GetLetter(r.letter_id, "");
    if (!letter.ok()) return;
    submitted_ms = letter->create_time_ms;
  }
  const double seconds =
      static_cast<double>(std::max<int64_t>(0, r.time_ms - submitted_ms)) /
      1000.0;
  metrics_->delivery_latency->WithLabels({channel})->Observe(seconds);
}

}  // namespace utpost::observability
