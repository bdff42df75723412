// Topology declaration and queue depths.

#include <amqp.h>
#include <amqp_framing.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "queue/amqp_broker.h"
#include "queue/amqp_connection.h"
#include "queue/queue.h"

namespace utpost::queue {
namespace {

absl::Status ValidateTopology(const Topology& topology) {
  if (topology.prefix.empty()) {
    return absl::InvalidArgumentError("topology: empty prefix");
  }
  for (const std::string& stage : topology.stages) {
    if (stage.empty())
      return absl::InvalidArgumentError("topology: empty stage");
  }
  for (int delay : topology.retry_delays_seconds) {
    // x-message-ttl is in milliseconds and must stay a sane 32-bit value.
    if (delay <= 0 || delay > 24 * 3600) {
      return absl::InvalidArgumentError(
          absl::StrCat("topology: retry delay ", delay, " s not in 1..86400"));
    }
  }
  return absl::OkStatus();
}

// Every queue of `topology`, stage queues first.
std::vector<std::string> AllQueues(const Topology& topology) {
  std::vector<std::string> queues;
  for (const std::string& stage : topology.stages) {
    queues.push_back(topology.StageQueue(stage));
  }
  for (const std::string& stage : topology.stages) {
    queues.push_back(topology.BulkStageQueue(stage));
  }
  for (int delay : topology.retry_delays_seconds) {
    queues.push_back(topology.RetryQueue(delay));
  }
  queues.push_back(topology.ParkedQueue());
  return queues;
}

class AmqpAdmin final : public Admin {
 public:
  explicit AmqpAdmin(const BrokerOptions& options) : options_(options) {}

  absl::Status DeclareTopology(const Topology& topology) override {
    RETURN_IF_ERROR(ValidateTopology(topology));
    return OnAnyNode<absl::Status>([&]() -> absl::Status {
      RETURN_IF_ERROR(EnsureConnected());
      return DropOnError(Declare(topology));
    });
  }

  absl::StatusOr<std::vector<QueueStats>> Stats(
      const Topology& topology) override {
    RETURN_IF_ERROR(ValidateTopology(topology));
    return OnAnyNode<absl::StatusOr<std::vector<QueueStats>>>(
        [&] { return StatsOnce(topology); });
  }

  absl::StatusOr<int64_t> Prune(
      const std::string& queue,
      const std::function<bool(const std::string& body)>& drop,
      int64_t max_messages) override {
    // Messages looked at on a connection that broke are back in the queue,
    // so trying again on another node removes none twice.
    return OnAnyNode<absl::StatusOr<int64_t>>([&]() -> absl::StatusOr<int64_t> {
      RETURN_IF_ERROR(EnsureConnected());
      auto pruned = PruneHeld(queue, drop, max_messages);
      if (!pruned.ok()) connection_.reset();  // Returns what it held.
      return pruned;
    });
  }

 private:
  // Runs `call` and, while it fails UNAVAILABLE after connecting (its
  // connection broke), once more on each other node. When no node answers
  // at all, Open has tried them all already.
  template <typename Result>
  Result OnAnyNode(const std::function<Result()>& call) {
    if (!ring_.has_value()) {
      absl::StatusOr<NodeRing> ring = NodeRing::Of(options_);
      if (!ring.ok()) return ring.status();
      ring_.emplace(*std::move(ring));
    }
    Result result = call();
    for (size_t tried = 1; tried < ring_->size(); ++tried) {
      if (StatusOf(result).code() != absl::StatusCode::kUnavailable ||
          open_failed_) {
        break;
      }
      connection_.reset();
      ring_->Advance();
      result = call();
    }
    return result;
  }

  static absl::Status StatusOf(const absl::Status& status) { return status; }
  template <typename T>
  static absl::Status StatusOf(const absl::StatusOr<T>& result) {
    return result.status();
  }

  absl::StatusOr<std::vector<QueueStats>> StatsOnce(const Topology& topology) {
    RETURN_IF_ERROR(EnsureConnected());
    std::vector<QueueStats> stats;
    for (const std::string& queue : AllQueues(topology)) {
      amqp_queue_declare_ok_t* ok = amqp_queue_declare(
          connection_->state(), AmqpConnection::kChannel, AmqpBytes(queue),
          /*passive=*/1, /*durable=*/0, /*exclusive=*/0, /*auto_delete=*/0,
          amqp_empty_table);
      RETURN_IF_ERROR(DropOnError(
          connection_->CheckLastReply(absl::StrCat("inspect queue ", queue))));
      QueueStats s;
      s.queue = queue;
      s.messages = ok->message_count;
      s.consumers = ok->consumer_count;
      stats.push_back(std::move(s));
    }
    return stats;
  }

  absl::StatusOr<int64_t> PruneHeld(
      const std::string& queue,
      const std::function<bool(const std::string& body)>& drop,
      int64_t max_messages) {
    amqp_connection_state_t state = connection_->state();
    const std::string what = absl::StrCat("get from queue ", queue);
    std::vector<uint64_t> keep;
    std::vector<uint64_t> remove;
    while (static_cast<int64_t>(keep.size() + remove.size()) < max_messages) {
      amqp_rpc_reply_t reply = amqp_basic_get(state, AmqpConnection::kChannel,
                                              AmqpBytes(queue), /*no_ack=*/0);
      RETURN_IF_ERROR(connection_->CheckReply(reply, what));
      if (reply.reply.id != AMQP_BASIC_GET_OK_METHOD) break;  // Empty.
      const uint64_t tag =
          static_cast<amqp_basic_get_ok_t*>(reply.reply.decoded)->delivery_tag;
      amqp_message_t message;
      RETURN_IF_ERROR(connection_->CheckReply(
          amqp_read_message(state, AmqpConnection::kChannel, &message, 0),
          what));
      std::string body(static_cast<const char*>(message.body.bytes),
                       message.body.len);
      amqp_destroy_message(&message);
      (drop(body) ? remove : keep).push_back(tag);
    }
    for (uint64_t tag : remove) {
      RETURN_IF_ERROR(connection_->CheckLibraryStatus(
          amqp_basic_ack(state, AmqpConnection::kChannel, tag,
                         /*multiple=*/0),
          what));
    }
    for (uint64_t tag : keep) {
      RETURN_IF_ERROR(connection_->CheckLibraryStatus(
          amqp_basic_nack(state, AmqpConnection::kChannel, tag,
                          /*multiple=*/0, /*requeue=*/1),
          what));
    }
    amqp_maybe_release_buffers(state);
    return static_cast<int64_t>(remove.size());
  }

  absl::Status EnsureConnected() {
    // The admin is used rarely; a connection the broker dropped in between
    // shows up as an error on first use, so a stale one is replaced here.
    if (connection_ != nullptr && connection_->usable() &&
        !connection_->DrainPending().ok()) {
      connection_->MarkUnusable();
    }
    if (connection_ != nullptr && !connection_->usable()) connection_.reset();
    if (connection_ != nullptr) return absl::OkStatus();
    auto connection = AmqpConnection::Open(options_, &*ring_);
    open_failed_ = !connection.ok();
    if (!connection.ok()) return connection.status();
    connection_ = *std::move(connection);
    return absl::OkStatus();
  }

  // A failed declare leaves the channel closed by the broker; start over.
  absl::Status DropOnError(absl::Status status) {
    if (!status.ok()) connection_.reset();
    return status;
  }

  absl::Status DeclareExchange(const std::string& name, const char* type) {
    amqp_exchange_declare(connection_->state(), AmqpConnection::kChannel,
                          AmqpBytes(name), amqp_cstring_bytes(type),
                          /*passive=*/0, /*durable=*/1, /*auto_delete=*/0,
                          /*internal=*/0, amqp_empty_table);
    return connection_->CheckLastReply(absl::StrCat("declare exchange ", name));
  }

  absl::Status DeclareQueue(const std::string& name, AmqpTable* arguments) {
    // No x-quorum-initial-group-size: the broker then places a new queue on
    // every node of the cluster, which is what a three-node cluster wants,
    // and a queue declared earlier without it stays declarable (the broker
    // refuses, 406, a declaration whose arguments differ from the queue's).
    arguments->AddString("x-queue-type", "quorum");
    amqp_queue_declare(connection_->state(), AmqpConnection::kChannel,
                       AmqpBytes(name), /*passive=*/0, /*durable=*/1,
                       /*exclusive=*/0, /*auto_delete=*/0, arguments->Build());
    return connection_->CheckLastReply(absl::StrCat("declare queue ", name));
  }

  absl::Status Bind(const std::string& queue, const std::string& exchange,
                    const std::string& key) {
    amqp_queue_bind(connection_->state(), AmqpConnection::kChannel,
                    AmqpBytes(queue), AmqpBytes(exchange), AmqpBytes(key),
                    amqp_empty_table);
    return connection_->CheckLastReply(
        absl::StrCat("bind ", queue, " to ", exchange, " with '", key, "'"));
  }

  absl::Status Declare(const Topology& topology) {
    const std::string work = topology.WorkExchange();
    RETURN_IF_ERROR(DeclareExchange(work, "direct"));
    for (const std::string& stage : topology.stages) {
      const std::string queue = topology.StageQueue(stage);
      AmqpTable arguments;
      RETURN_IF_ERROR(DeclareQueue(queue, &arguments));
      RETURN_IF_ERROR(Bind(queue, work, stage));
      const std::string bulk = topology.BulkStageQueue(stage);
      AmqpTable bulk_arguments;
      RETURN_IF_ERROR(DeclareQueue(bulk, &bulk_arguments));
      RETURN_IF_ERROR(Bind(bulk, work, Topology::BulkRoutingKey(stage)));
    }
    {
      const std::string parked = topology.ParkedQueue();
      AmqpTable arguments;
      RETURN_IF_ERROR(DeclareQueue(parked, &arguments));
      RETURN_IF_ERROR(Bind(parked, work, Topology::kParkedRoutingKey));
    }
    for (int delay : topology.retry_delays_seconds) {
      const std::string exchange = topology.RetryExchange(delay);
      const std::string queue = topology.RetryQueue(delay);
      RETURN_IF_ERROR(DeclareExchange(exchange, "fanout"));
      AmqpTable arguments;
      arguments.AddInt("x-message-ttl", int64_t{delay} * 1000);
      // No x-dead-letter-routing-key: an expired message keeps the key it
      // was published with, which is its stage.
      arguments.AddString("x-dead-letter-exchange", work);
      // At-least-once dead-lettering keeps a message until the work queue
      // has confirmed it, so nothing is lost between the two queues; the
      // broker requires reject-publish overflow for it.
      arguments.AddString("x-dead-letter-strategy", "at-least-once");
      arguments.AddString("x-overflow", "reject-publish");
      RETURN_IF_ERROR(DeclareQueue(queue, &arguments));
      RETURN_IF_ERROR(Bind(queue, exchange, ""));
    }
    return absl::OkStatus();
  }

  const BrokerOptions options_;
  std::optional<NodeRing> ring_;
  std::unique_ptr<AmqpConnection> connection_;
  // The last connection attempt found no node.
  bool open_failed_ = false;
};

}  // namespace

std::unique_ptr<Admin> NewAmqpAdmin(const BrokerOptions& options) {
  return std::make_unique<AmqpAdmin>(options);
}

}  // namespace utpost::queue
