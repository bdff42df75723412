// Handles work items from the broker: routes a letter to a channel and
// delivers it there, deciding what happens on failure. Each stage acts only
// when the letter is in that stage's entry state, so a redelivered or
// republished item changes nothing; its outcome is stored (with the next
// work item, in one transaction) before the item is acked.
#ifndef UTPOST_GATEWAY_DISPATCH_DISPATCHER_H_
#define UTPOST_GATEWAY_DISPATCH_DISPATCHER_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "adapters/channel.h"
#include "gateway/store/store.h"
#include "queue/queue.h"

namespace utpost::dispatch {

struct DispatcherOptions {
  queue::Topology topology;
  // Delay before attempt n+1 is retry_delays_seconds[min(n, size-1)].
  std::vector<int> retry_delays_seconds = {20, 60, 300, 3600};
  // Attempts per stage before the letter is PARKED.
  int max_attempts = 6;
  // Return address for print, by tenant organisation number.
  std::map<std::string, adapters::PostalAddress> return_addresses;
  // Mailbox providers reached by the digital channel (Digipost).
  std::vector<std::string> digital_providers = {"984661185"};
  // Called with the stage each time a retry is scheduled (metrics). May be
  // empty.
  std::function<void(const std::string& stage)> on_retry;
};

// Thread-safe (each call is independent; adapters are thread-safe).
class Dispatcher {
 public:
  // Nothing is owned; all outlive this. `on_change` runs after each stored
  // change (wakes the outbox relay and watchers).
  Dispatcher(store::Store* store, adapters::Registry* registry,
             adapters::Channel* digital, adapters::Channel* print,
             DispatcherOptions options, std::function<void()> on_change);

  queue::Disposition Handle(const queue::Delivery& delivery);

 private:
  absl::Status Route(const store::LetterRecord& letter, int attempt);
  absl::Status Deliver(const store::LetterRecord& letter,
                       const std::string& stage, int attempt);
  // Schedules another attempt at `stage`, or parks the letter when the
  // attempts are used up.
  absl::Status RetryOrPark(const store::LetterRecord& letter,
                           const std::string& stage, int attempt,
                           const absl::Status& error);
  store::OutboxMessage WorkFor(const std::string& letter_id,
                               const std::string& stage, int attempt) const;
  absl::Status Apply(const std::string& letter_id, const store::Transition& t);

  store::Store* const store_;
  adapters::Registry* const registry_;
  adapters::Channel* const digital_;
  adapters::Channel* const print_;
  const DispatcherOptions options_;
  const std::function<void()> on_change_;
};

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_DISPATCHER_H_
