#include "gateway/dispatch/event_poller.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "spdlog/spdlog.h"

namespace utpost::dispatch {

EventPoller::EventPoller(Dispatcher* dispatcher, EventPollerOptions options)
    : dispatcher_(dispatcher), options_(options) {
  if (options_.start_thread) {
    // A round drains what each channel has; the next waits.
    rounds_ = std::make_unique<PeriodicTask>(
        absl::Milliseconds(options_.interval_ms), [this] { PollOnce(); });
  }
}

EventPoller::~EventPoller() { rounds_.reset(); }

int EventPoller::PollOnce() {
  int applied = 0;
  // Every channel with more to give takes one batch in turn: a channel with
  // thousands of events waiting (print, after a large batch) must not hold
  // up a read or a delivery receipt of another for the length of its drain.
  std::vector<std::pair<std::string, adapters::Channel*>> active(
      dispatcher_->channels().begin(), dispatcher_->channels().end());
  // Drain what each channel has, a batch at a time, but not forever.
  for (int round = 0; round < 100 && !active.empty(); ++round) {
    std::vector<std::pair<std::string, adapters::Channel*>> more;
    for (const auto& [name, channel] : active) {
      if (PollBatch(name, channel, &applied)) more.emplace_back(name, channel);
    }
    active = std::move(more);
  }
  return applied;
}

bool EventPoller::PollBatch(const std::string& name, adapters::Channel* channel,
                            int* applied) {
  auto events = channel->FetchEvents(options_.batch);
  if (!events.ok()) {
    spdlog::warn("events from {}: {}", name, events.status().ToString());
    return false;
  }
  if (events->empty()) return false;
  std::vector<std::string> stored;
  bool failed = false;
  bool any_fresh = false;
  for (const auto& e : *events) {
    bool fresh = false;
    absl::Status s = dispatcher_->ApplyEvent(name, e, &fresh);
    any_fresh = any_fresh || fresh;
    if (!s.ok()) {
      spdlog::warn("event {} from {} not stored: {}", e.event_id, name,
                   s.ToString());
      failed = true;
      break;
    }
    stored.push_back(e.event_id);
    ++*applied;
  }
  if (!stored.empty()) {
    if (absl::Status s = channel->ConfirmEvents(stored); !s.ok()) {
      // Stored all the same; a repeat is recognised as a duplicate.
      spdlog::warn("confirming {} events to {}: {}", stored.size(), name,
                   s.ToString());
    }
  }
  // A full batch may have more behind it, unless it brought nothing new (a
  // provider that ignores confirmations).
  return !failed && any_fresh &&
         static_cast<int>(events->size()) >= options_.batch;
}

}  // namespace utpost::dispatch
