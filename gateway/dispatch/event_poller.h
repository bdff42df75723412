// Fetches what providers report after the hand-off (delivery and read
// receipts, print notices, late failures) from every channel, applies each
// event through the dispatcher (kept as evidence, letters moved forward
// only) and then confirms the stored events to the provider. Worker role.
#ifndef UTPOST_GATEWAY_DISPATCH_EVENT_POLLER_H_
#define UTPOST_GATEWAY_DISPATCH_EVENT_POLLER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "common/periodic.h"
#include "gateway/dispatch/dispatcher.h"

namespace utpost::dispatch {

struct EventPollerOptions {
  // Pause between rounds. Default 5 s.
  int64_t interval_ms = 5000;
  // Events asked for per channel per call.
  int batch = 100;
  // Poll on a thread of its own, the first round at once (tests call
  // PollOnce instead).
  bool start_thread = true;
};

// Thread-safe.
class EventPoller {
 public:
  // `dispatcher` is not owned and outlives this.
  EventPoller(Dispatcher* dispatcher, EventPollerOptions options);
  ~EventPoller();  // Stops after the current round.

  // One round over all channels: fetch, apply, confirm, one batch of each
  // channel in turn for as long as a channel gives full batches with
  // something new. Returns the number of events applied (duplicates
  // included). A channel that fails to answer is logged and skipped; the
  // rest go on. Events after one that could not be stored are not confirmed
  // (the provider sends them again).
  int PollOnce();

 private:
  // One batch of `channel`'s events; adds the events applied to *applied.
  // True when the channel may have more now.
  bool PollBatch(const std::string& name, adapters::Channel* channel,
                 int* applied);

  Dispatcher* const dispatcher_;
  const EventPollerOptions options_;
  std::unique_ptr<PeriodicTask> rounds_;  // Null without start_thread.
};

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_EVENT_POLLER_H_
