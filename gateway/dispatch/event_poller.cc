#include "gateway/dispatch/event_poller.h"

#include <memory>
#include <string>
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
  for (const auto& [name, channel] : dispatcher_->channels()) {
    // Drain what the channel has, a batch at a time, but not forever.
    for (int round = 0; round < 100; ++round) {
      auto events = channel->FetchEvents(options_.batch);
      if (!events.ok()) {
        spdlog::warn("events from {}: {}", name, events.status().ToString());
        break;
      }
      if (events->empty()) break;
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
        ++applied;
      }
      if (!stored.empty()) {
        if (absl::Status s = channel->ConfirmEvents(stored); !s.ok()) {
          // Stored all the same; a repeat is recognised as a duplicate.
          spdlog::warn("confirming {} events to {}: {}", stored.size(), name,
                       s.ToString());
        }
      }
      // A full batch may have more behind it, unless it brought nothing
      // new (a provider that ignores confirmations).
      if (failed || !any_fresh ||
          static_cast<int>(events->size()) < options_.batch) {
        break;
      }
    }
  }
  return applied;
}

}  // namespace utpost::dispatch
