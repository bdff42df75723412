// Handles work items from the broker: routes a letter to a channel and
// delivers it there, deciding what happens on failure; applies provider
// events and fires timers (fallback to print, scheduled delivery). Each
// stage acts only when the letter is in that stage's entry state, so a
// redelivered or republished item changes nothing; its outcome is stored
// (with the next work item, in one transaction) before the item is acked.
//
// Stages: "route", then "deliver.<channel>" for each configured channel
// (StagesFor). Routing (routing.h) names the channel; a channel routing
// names that this gateway has not configured (for example "dpi" without
// DPI credentials) is a set-up error: the route stage retries with backoff
// and then parks the letter with the reason, for an operator to re-drive
// once the channel is configured. It never quietly prints instead.
//
// Fallback to print (DIGITAL_THEN_PRINT only; DIGITAL_ONLY fails instead):
// routing finds no digital channel; the provider refuses the letter at
// send (INVALID_ARGUMENT); a provider reports kFailed later; the letter is
// not read within print_if_unread_after. A letter already with the mailbox
// provider (SENT_DIGITAL, DELIVERED) goes back through ROUTED (channel
// "print") and the print stage to SENT_PRINT, each step a receipt.
//
// Provider events (ApplyEvent) move a letter forward only and only while it
// is with the channel that reports: kDelivered SENT_DIGITAL -> DELIVERED;
// kRead -> READ (through DELIVERED); kPosted SENT_PRINT -> PRINTED; kFailed
// from a mailbox channel -> fallback to print or FAILED, from print ->
// FAILED. kPrintReceived, kNotificationFailed and kReturned are evidence
// only: a returned letter stays PRINTED (the API has no state for it; the
// return is in the letter's provider events with the provider's reason).
// Every event is kept, once, whether or not it moved anything.
//
// print_if_unread_after: the deadline runs from the hand-off to the mailbox
// provider (SENT_DIGITAL; for Digipost that is also DELIVERED), so that a
// channel without delivery receipts still keeps it. The timer is written in
// the hand-off's transaction and removed by a read event.
#ifndef UTPOST_GATEWAY_DISPATCH_DISPATCHER_H_
#define UTPOST_GATEWAY_DISPATCH_DISPATCHER_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/channel.h"
#include "common/clock.h"
#include "gateway/dispatch/routing.h"
#include "gateway/store/store.h"
#include "queue/queue.h"

namespace utpost::dispatch {

// Timer kinds (store::TimerRecord::kind).
inline constexpr char kPrintIfUnreadTimer[] = "print_if_unread";
inline constexpr char kNotBeforeTimer[] = "not_before";

struct DispatcherOptions {
  queue::Topology topology;
  // Delay before attempt n+1 is retry_delays_seconds[min(n, size-1)]
  // (see backoff.h). Each must be one of topology.retry_delays_seconds.
  std::vector<int> retry_delays_seconds = {20, 60, 180, 540, 1620, 3600};
  // Attempts per stage before the letter is PARKED.
  int max_attempts = 6;
  // Return address for print, by tenant organisation number.
  std::map<std::string, adapters::PostalAddress> return_addresses;
  // Which mailbox providers each digital channel reaches.
  RoutingOptions routing;
  // Time of timers (not_before, print_if_unread_after). Not owned.
  const Clock* clock = RealClock();
  // Called with the stage each time a retry is scheduled (metrics). May be
  // empty.
  std::function<void(const std::string& stage)> on_retry;
};

// Thread-safe (each call is independent; adapters are thread-safe).
class Dispatcher {
 public:
  // Nothing is owned; all outlive this. `channels` by name ("digital",
  // "dpi", "altinn", "print"); `organisations` may be null (organisations
  // then go to print, or fail under DIGITAL_ONLY). `on_change` runs after
  // each stored change (wakes the outbox relay and watchers).
  Dispatcher(store::Store* store, adapters::Registry* registry,
             adapters::OrganisationRegistry* organisations,
             std::map<std::string, adapters::Channel*> channels,
             DispatcherOptions options, std::function<void()> on_change);
  // The digital (Digipost-direct) and print channels only.
  Dispatcher(store::Store* store, adapters::Registry* registry,
             adapters::Channel* digital, adapters::Channel* print,
             DispatcherOptions options, std::function<void()> on_change);

  // The work stages for these channel names: "route" and
  // "deliver.<name>" each (for queue::Topology::stages).
  static std::vector<std::string> StagesFor(
      const std::vector<std::string>& channel_names);

  // Recipients looked up together for a batch of deliveries.
  struct Prefetched {
    // By person number: what the registry answered (empty: not known).
    std::map<std::string, std::vector<adapters::PersonContact>> persons;
  };
  // Looks up in one registry call the persons of the letters in `batch`
  // that are to be routed now (the registry splits calls at its limit). A
  // failed look-up is left to each letter's own, which retries or parks it.
  Prefetched Prefetch(const std::vector<queue::Delivery>& batch);

  // Handles one work item; a routed person found in `prefetched` is not
  // looked up again.
  queue::Disposition Handle(const queue::Delivery& delivery,
                            const Prefetched* prefetched = nullptr);

  // Keeps `event`, reported by the channel named `channel`, as evidence
  // and moves its letter forward when it can (see store::Store::
  // ApplyProviderEvent). Non-OK only when the store failed: the event was
  // not kept and must not be confirmed to the provider.
  // `fresh`, when given, is set to false for an event kept before.
  absl::Status ApplyEvent(const std::string& channel,
                          const adapters::ProviderEvent& event,
                          bool* fresh = nullptr);

  // Acts on a due timer, exactly once across all scanners.
  absl::Status FireTimer(const store::TimerRecord& timer);

  // Publishes again the work item of a letter found stuck.
  absl::Status RequeueStuck(const store::StuckLetter& letter);

  // Configured channels (name -> channel), for the event poller.
  const std::map<std::string, adapters::Channel*>& channels() const {
    return channels_;
  }

 private:
  absl::Status Route(const store::LetterRecord& letter, int attempt,
                     const Prefetched* prefetched);
  // Whether routing `letter` now asks the registry about its person.
  bool NeedsPersonLookup(const store::LetterRecord& letter) const;
  absl::Status Deliver(const store::LetterRecord& letter,
                       const std::string& channel_name, int attempt);
  // Schedules another attempt at `stage`, or parks the letter when the
  // attempts are used up.
  absl::Status RetryOrPark(const store::LetterRecord& letter,
                           const std::string& stage, int attempt,
                           const absl::Status& error);
  // The transition that sends a letter in one of `from` to print after a
  // digital failure or deadline, or FAILED when the policy or the missing
  // address forbid print (nullopt with `keep` true: leave it as it is).
  store::Transition FallbackOrFail(const store::LetterRecord& letter,
                                   std::vector<store::State> from,
                                   const std::string& why) const;
  bool CanPrint(const store::LetterRecord& letter) const;
  // The work item for the letter at `stage`, in the bulk lane when `bulk`
  // (the letter's LetterRecord::bulk), carrying the current trace.
  store::OutboxMessage WorkFor(const std::string& letter_id, bool bulk,
                               const std::string& stage, int attempt) const;
  absl::Status Apply(const std::string& letter_id, const store::Transition& t);
  // The transitions a provider event `rec` of `kind` may make on `letter`
  // (which is with the event's channel), the first that fits to be applied.
  std::vector<store::Transition> EventCandidates(
      const store::LetterRecord& letter, const store::ProviderEventRecord& rec,
      adapters::ProviderEvent::Kind kind) const;
  // Applies the events of `letter_id` from `channel_name` that were kept
  // without effect (they came while the letter was still ROUTED, before its
  // hand-off was recorded). Call after the hand-off transition committed.
  absl::Status ApplyKeptEvents(const std::string& letter_id,
                               const std::string& channel_name);

  store::Store* const store_;
  adapters::Registry* const registry_;
  adapters::OrganisationRegistry* const organisations_;
  const std::map<std::string, adapters::Channel*> channels_;
  const DispatcherOptions options_;
  const std::function<void()> on_change_;
};

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_DISPATCHER_H_
