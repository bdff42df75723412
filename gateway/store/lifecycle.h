// The letter's life as one table: which state may follow which, which states
// are final, and the stages (work queues) a letter waits in. The store
// refuses any change the table does not hold, whoever asks for it; the
// dispatcher, the API and the operators' tools name stages and make work
// items only through here.
//
//   RECEIVED     -> QUEUED (the relay published its routing item)
//                -> CANCELLED
//   QUEUED       -> ROUTED (a channel was chosen), FAILED (none possible),
//                   PARKED (routing retries exhausted), CANCELLED
//   ROUTED       -> SENT_DIGITAL, SENT_PRINT (handed to the provider),
//                   ROUTED (again, to print, when the channel refused),
//                   FAILED, PARKED, CANCELLED (before any hand-off)
//   SENT_DIGITAL -> DELIVERED, ROUTED (to print: the provider gave up or the
//                   letter went unread), FAILED
//   DELIVERED    -> READ, ROUTED (to print, unread), FAILED
//   SENT_PRINT   -> PRINTED, FAILED
//   PARKED       -> QUEUED, ROUTED (an operator redrove it)
//   READ, PRINTED, FAILED, CANCELLED: nothing follows.
#ifndef UTPOST_GATEWAY_STORE_LIFECYCLE_H_
#define UTPOST_GATEWAY_STORE_LIFECYCLE_H_

#include <string>
#include <vector>

#include "gateway/store/store.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::store::lifecycle {

// Whether `to` may follow `from`.
bool Allowed(State from, State to);

// The states from which nothing follows, or only what a recipient does
// (DELIVERED -> READ): the letter's outcome is known. For status pages and
// the statistics.
bool IsFinal(State state);

// The states whose letters the gateway sends nowhere again on its own, so
// retention may delete their documents' content.
const std::vector<State>& Settled();

// Stages, as work items and queues name them.
inline constexpr char kRouteStage[] = "route";
inline constexpr char kDeliverStagePrefix[] = "deliver.";
// "deliver.<channel>".
std::string DeliverStage(const std::string& channel);
// The stage a letter in `state` on `channel` waits in: "route" until it
// has a channel, then "deliver.<channel>".
std::string StageOf(State state, const std::string& channel);
// The states a letter is in while a work item of `stage` is due.
std::vector<State> EntryStates(const std::string& stage);

// The work item for `letter_id` at `stage`, attempt `attempt` (0 for the
// first), carrying `trace_id` (may be empty), as an outbox message to
// `work_exchange` with the stage as its routing key, in the bulk lane when
// `bulk` (queue::Topology::RoutingKey).
OutboxMessage WorkItem(const std::string& work_exchange,
                       const std::string& letter_id, const std::string& stage,
                       int attempt, const std::string& trace_id = "",
                       bool bulk = false);

}  // namespace utpost::store::lifecycle

#endif  // UTPOST_GATEWAY_STORE_LIFECYCLE_H_
