#include "gateway/dispatch/outbox_relay.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "gateway/dispatch/provider_stats.h"
#include "spdlog/spdlog.h"

namespace utpost::dispatch {

OutboxRelay::OutboxRelay(store::Store* store,
                         std::unique_ptr<queue::Publisher> publisher,
                         std::unique_ptr<queue::Admin> admin,
                         OutboxRelayOptions options)
    : store_(store),
      publisher_(std::move(publisher)),
      admin_(std::move(admin)),
      options_(std::move(options)),
      thread_([this] { Loop(); }) {}

OutboxRelay::~OutboxRelay() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void OutboxRelay::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void OutboxRelay::Loop() {
  bool declared = false;
  int backoff_ms = 100;
  for (;;) {
    int published = 0;
    bool failed = false;
    if (!declared) {
      auto s = admin_->DeclareTopology(options_.topology);
      if (s.ok()) {
        declared = true;
        spdlog::info("relay: broker topology declared");
      } else {
        spdlog::warn("relay: cannot declare topology yet: {}", s.ToString());
        failed = true;
      }
    }
    if (declared) {
      published = PublishRound();
      failed = published < 0;
      // A broker that comes back empty (new node, lost definitions) refuses
      // every publish until the topology is there again.
      if (failed) declared = false;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    if (failed) {
      cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms),
                   [this] { return stopping_; });
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    backoff_ms = 100;
    if (published >= options_.batch_size) continue;  // More may be waiting.
    cv_.wait_for(lock, std::chrono::milliseconds(options_.idle_poll_ms),
                 [this] { return stopping_ || woken_; });
    woken_ = false;
    if (stopping_) return;
  }
}

int OutboxRelay::PublishRound() {
  // Claimed, so that relays of several processes on one database publish
  // each row once while the lease lasts; a dead relay's rows go to another
  // when it ends.
  auto rows = store_->ClaimOutbox(
      options_.owner.empty() ? ThisProcessId() : options_.owner,
      options_.batch_size, options_.lease_ms);
  if (!rows.ok()) {
    spdlog::warn("relay: store read failed: {}", rows.status().ToString());
    return -1;
  }
  if (rows->empty()) return 0;
  std::vector<queue::OutgoingMessage> messages;
  std::vector<int64_t> ids;
  messages.reserve(rows->size());
  for (const auto& r : *rows) {
    messages.push_back({r.exchange, r.routing_key, r.body});
    ids.push_back(r.id);
  }
  if (auto s = publisher_->PublishAll(messages); !s.ok()) {
    spdlog::warn("relay: publish of {} work items failed, will retry: {}",
                 messages.size(), s.ToString());
    return -1;
  }
  if (auto s = store_->MarkOutboxSent(ids); !s.ok()) {
    // Published but not marked: they go out again later, and the consumers
    // drop the repeat.
    spdlog::warn("relay: marking {} rows sent failed: {}", ids.size(),
                 s.ToString());
    return -1;
  }
  if (options_.on_sent) options_.on_sent();
  return static_cast<int>(rows->size());
}

}  // namespace utpost::dispatch
