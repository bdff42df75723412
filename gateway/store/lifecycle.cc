#include "gateway/store/lifecycle.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "queue/queue.h"
#include "utpost/internal/v1/work_item.pb.h"

namespace utpost::store::lifecycle {
namespace {

using ::utpost::v1::Letter;

struct Edge {
  State from;
  State to;
};

// The table of lifecycle.h, edge by edge.
constexpr Edge kEdges[] = {
    {Letter::RECEIVED, Letter::QUEUED},
    {Letter::RECEIVED, Letter::CANCELLED},
    {Letter::QUEUED, Letter::ROUTED},
    {Letter::QUEUED, Letter::FAILED},
    {Letter::QUEUED, Letter::PARKED},
    {Letter::QUEUED, Letter::CANCELLED},
    {Letter::ROUTED, Letter::SENT_DIGITAL},
    {Letter::ROUTED, Letter::SENT_PRINT},
    {Letter::ROUTED, Letter::ROUTED},
    {Letter::ROUTED, Letter::FAILED},
    {Letter::ROUTED, Letter::PARKED},
    {Letter::ROUTED, Letter::CANCELLED},
    {Letter::SENT_DIGITAL, Letter::DELIVERED},
    {Letter::SENT_DIGITAL, Letter::ROUTED},
    {Letter::SENT_DIGITAL, Letter::FAILED},
    {Letter::DELIVERED, Letter::READ},
    {Letter::DELIVERED, Letter::ROUTED},
    {Letter::DELIVERED, Letter::FAILED},
    {Letter::SENT_PRINT, Letter::PRINTED},
    {Letter::SENT_PRINT, Letter::FAILED},
    {Letter::PARKED, Letter::QUEUED},
    {Letter::PARKED, Letter::ROUTED},
};

}  // namespace

bool Allowed(State from, State to) {
  return std::any_of(std::begin(kEdges), std::end(kEdges), [&](const Edge& e) {
    return e.from == from && e.to == to;
  });
}

bool IsFinal(State state) {
  return state == Letter::DELIVERED || state == Letter::READ ||
         state == Letter::PRINTED || state == Letter::FAILED ||
         state == Letter::CANCELLED;
}

const std::vector<State>& Settled() {
  static const auto* states = new std::vector<State>{
      Letter::DELIVERED, Letter::READ,   Letter::SENT_PRINT,
      Letter::PRINTED,   Letter::FAILED, Letter::CANCELLED};
  return *states;
}

std::string DeliverStage(const std::string& channel) {
  return absl::StrCat(kDeliverStagePrefix, channel);
}

std::string StageOf(State state, const std::string& channel) {
  if (channel.empty() || state == Letter::RECEIVED || state == Letter::QUEUED) {
    return kRouteStage;
  }
  return DeliverStage(channel);
}

std::vector<State> EntryStates(const std::string& stage) {
  if (stage == kRouteStage) return {Letter::QUEUED};
  return {Letter::ROUTED};
}

OutboxMessage WorkItem(const std::string& work_exchange,
                       const std::string& letter_id, const std::string& stage,
                       int attempt, const std::string& trace_id, bool bulk) {
  internal::v1::WorkItem item;
  item.set_letter_id(letter_id);
  item.set_stage(stage);
  item.set_attempt(attempt);
  if (!trace_id.empty()) item.set_trace_id(trace_id);
  OutboxMessage m;
  m.exchange = work_exchange;
  m.routing_key = queue::Topology::RoutingKey(stage, bulk);
  m.body = item.SerializeAsString();
  m.letter_id = letter_id;
  return m;
}

}  // namespace utpost::store::lifecycle
