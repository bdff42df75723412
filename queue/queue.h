// The broker as the rest of Utpost sees it: a confirming publisher and a
// consumer with manual acknowledgements. Nothing outside queue/ includes
// <amqp.h>; the RabbitMQ implementation is in amqp_broker.h.
#ifndef UTPOST_QUEUE_QUEUE_H_
#define UTPOST_QUEUE_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace utpost::queue {

// Names of the topology, derived from one prefix (default "utpost"):
//   exchange  <prefix>.work      direct; routing keys are stage names
//   queue     <prefix>.route            bound with key "route"
//   queue     <prefix>.deliver.digital  bound with key "deliver.digital"
//   queue     <prefix>.deliver.print    bound with key "deliver.print"
//   queue     <prefix>.bulk.<stage>     one a stage, bound with key
//                                       "bulk.<stage>": the bulk lane
//   exchange  <prefix>.retry.<N>s  fanout, one per retry delay, into
//   queue     <prefix>.retry.<N>s  TTL N s, dead-letters back to <prefix>.work
//                                  keeping the original routing key
//   queue     <prefix>.parked       parked work items, for operators; bound
//                                  to <prefix>.work with key "parked"
// All queues are durable quorum queues.
//
// Two lanes: letters submitted one at a time travel through the stage
// queues, letters of a bulk run (SubmitBatch) through the bulk queues, each
// with consumers of its own. So a single letter waits behind other single
// letters only, never behind a 100,000-letter run; the work item says the
// stage either way, so a consumer of either lane handles it alike.
struct Topology {
  std::string prefix = "utpost";
  // Work stages; each gets a queue bound to the work exchange.
  std::vector<std::string> stages = {"route", "deliver.digital",
                                     "deliver.print"};
  std::vector<int> retry_delays_seconds = {20, 60, 300, 3600};

  std::string WorkExchange() const { return prefix + ".work"; }
  std::string StageQueue(const std::string& stage) const {
    return prefix + "." + stage;
  }
  // The routing key and queue of `stage` in the bulk lane.
  static std::string BulkRoutingKey(const std::string& stage) {
    return "bulk." + stage;
  }
  std::string BulkStageQueue(const std::string& stage) const {
    return prefix + "." + BulkRoutingKey(stage);
  }
  // The routing key of `stage` in the lane a letter travels.
  static std::string RoutingKey(const std::string& stage, bool bulk) {
    return bulk ? BulkRoutingKey(stage) : stage;
  }
  std::string RetryExchange(int delay_seconds) const {
    return prefix + ".retry." + std::to_string(delay_seconds) + "s";
  }
  // The queue behind RetryExchange(delay_seconds) has the same name.
  std::string RetryQueue(int delay_seconds) const {
    return RetryExchange(delay_seconds);
  }
  std::string ParkedQueue() const { return prefix + ".parked"; }
  // Routing key that sends a work item to ParkedQueue().
  static constexpr const char* kParkedRoutingKey = "parked";
};

// One message to publish. Persistent (delivery mode 2) always.
struct OutgoingMessage {
  std::string exchange;
  std::string routing_key;
  std::string body;
};

// Publishes with publisher confirms. Not thread-safe: one per thread.
class Publisher {
 public:
  virtual ~Publisher() = default;
  // Publishes all of `messages` (many in flight at once) and returns OK only
  // once the broker has confirmed every one of them. On any error (nack,
  // connection loss, timeout) returns UNAVAILABLE; then none of them may be
  // treated as published and the caller publishes them again later (the
  // consumers are idempotent). Reconnects on the next call when needed. An
  // implementation may also reconnect and publish again what is unconfirmed
  // within the call (the RabbitMQ one does, moving to another node of a
  // cluster), so a message may arrive twice even when the call succeeds.
  virtual absl::Status PublishAll(
      const std::vector<OutgoingMessage>& messages) = 0;
};

// One delivery handed to a handler.
struct Delivery {
  std::string queue;
  std::string routing_key;
  std::string body;
  bool redelivered = false;
};

enum class Disposition {
  kAck,      // Done (its outcome is stored): remove it from the queue.
  kRequeue,  // Could not be handled now (store down): put it back.
};

// Consumes queues with manual acks and a prefetch. Not thread-safe.
class Consumer {
 public:
  virtual ~Consumer() = default;
  using Handler = std::function<Disposition(const Delivery&)>;
  // Consumes `queues` until `*stop` is true, calling `handler` for each
  // delivery on this thread and acking or requeueing as it says. When the
  // connection drops, reconnects with backoff and consumes again; returns
  // only when stopped (OK) or on a configuration error.
  virtual absl::Status Run(const std::vector<std::string>& queues,
                           const Handler& handler,
                           const std::atomic<bool>* stop) = 0;

  using Prepare = std::function<void(const std::vector<Delivery>&)>;
  // As Run, but first shows `prepare` what has arrived together: one
  // delivery, and with it up to `max_batch` - 1 more that are already here
  // (it never waits for more). Then each is handled and acked as by Run. So
  // a stage can do for many letters at once what it would do for each (one
  // registry look-up for a batch of recipients), while each delivery is
  // still acked as soon as it is done. This default prepares one delivery
  // at a time.
  virtual absl::Status RunBatches(const std::vector<std::string>& queues,
                                  const Prepare& prepare, int max_batch,
                                  const Handler& handler,
                                  const std::atomic<bool>* stop) {
    return Run(
        queues,
        [&](const Delivery& d) {
          if (prepare) prepare({d});
          return handler(d);
        },
        stop);
  }
};

struct QueueStats {
  std::string queue;
  int64_t messages = 0;
  int64_t consumers = 0;
};

// Declares the topology and reads queue depths. Not thread-safe.
class Admin {
 public:
  virtual ~Admin() = default;
  // Idempotent: declares every exchange, queue and binding of `topology`.
  virtual absl::Status DeclareTopology(const Topology& topology) = 0;
  // Depth and consumer count of each queue of `topology` (passive declare).
  virtual absl::StatusOr<std::vector<QueueStats>> Stats(
      const Topology& topology) = 0;
  // Looks at up to `max_messages` ready messages of `queue` and removes
  // those for which `drop(body)` is true; the others stay, in their order.
  // Returns how many were removed. Messages are held unacknowledged while
  // looked at, so a failure or crash half-way removes none of those not yet
  // acknowledged. For a queue nobody consumes (the parked queue).
  virtual absl::StatusOr<int64_t> Prune(
      const std::string& queue,
      const std::function<bool(const std::string& body)>& drop,
      int64_t max_messages) = 0;
};

}  // namespace utpost::queue

#endif  // UTPOST_QUEUE_QUEUE_H_
