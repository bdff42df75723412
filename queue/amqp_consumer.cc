// The consumer: manual acks, per-consumer prefetch, and a reconnect loop,
// since rabbitmq-c does not reconnect by itself.

#include <amqp.h>
#include <amqp_framing.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "queue/amqp_broker.h"
#include "queue/amqp_connection.h"
#include "queue/queue.h"
#include "spdlog/spdlog.h"

namespace utpost::queue {
namespace {

// How often `*stop` is looked at, and the longest a stop request waits.
constexpr std::chrono::milliseconds kPollInterval{200};

bool IsConfigurationError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
      return true;
    default:
      return false;
  }
}

// Sleeps for `duration`, waking early when `*stop` turns true.
void SleepUnlessStopped(std::chrono::milliseconds duration,
                        const std::atomic<bool>* stop) {
  const auto end = std::chrono::steady_clock::now() + duration;
  while (!stop->load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        end - now, kPollInterval));
  }
}

class AmqpConsumer final : public Consumer {
 public:
  explicit AmqpConsumer(const BrokerOptions& options) : options_(options) {}

  absl::Status Run(const std::vector<std::string>& queues,
                   const Handler& handler,
                   const std::atomic<bool>* stop) override {
    return RunBatches(queues, nullptr, 1, handler, stop);
  }

  absl::Status RunBatches(const std::vector<std::string>& queues,
                          const Prepare& prepare, int max_batch,
                          const Handler& handler,
                          const std::atomic<bool>* stop) override {
    if (max_batch < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("amqp consumer: max_batch ", max_batch, " < 1"));
    }
    if (queues.empty()) {
      return absl::InvalidArgumentError("amqp consumer: no queues to consume");
    }
    ASSIGN_OR_RETURN(NodeRing ring, NodeRing::Of(options_));
    std::chrono::milliseconds backoff = options_.reconnect_backoff_min;
    bool outage = false;
    while (!stop->load()) {
      bool consumed = false;
      absl::Status status =
          RunOnce(queues, prepare, max_batch, handler, stop, &ring, &consumed);
      if (status.ok()) return status;
      if (IsConfigurationError(status)) {
        spdlog::error("queue: consumer stops: {}", status.ToString());
        return status;
      }
      // A connection that worked retries at once-ish; a broker that stays
      // away is asked less and less often.
      if (consumed) {
        backoff = options_.reconnect_backoff_min;
        outage = false;
        // Its node may be going away: the next connection tries the others
        // first. (Open has moved past the nodes that did not answer.)
        ring.Advance();
      }
      // One line when the outage starts, then one per longest backoff, so a
      // long outage does not flood the log.
      if (!outage || backoff >= options_.reconnect_backoff_max) {
        spdlog::warn("queue: consumer disconnected: {}; retry in {} ms",
                     std::string(status.message()), backoff.count());
      }
      outage = true;
      SleepUnlessStopped(backoff, stop);
      backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
    }
    return absl::OkStatus();
  }

 private:
  // One connection's life: returns OK when stopped, else why it ended.
  // Sets `*consumed` once every consumer is registered.
  absl::Status RunOnce(const std::vector<std::string>& queues,
                       const Prepare& prepare, int max_batch,
                       const Handler& handler, const std::atomic<bool>* stop,
                       NodeRing* ring, bool* consumed) {
    ASSIGN_OR_RETURN(std::unique_ptr<AmqpConnection> connection,
                     AmqpConnection::Open(options_, ring));
    amqp_connection_state_t state = connection->state();
    amqp_basic_qos(state, AmqpConnection::kChannel, /*prefetch_size=*/0,
                   static_cast<uint16_t>(options_.prefetch), /*global=*/0);
    RETURN_IF_ERROR(connection->CheckLastReply("basic.qos"));

    // Deliveries name their consumer tag, not their queue.
    std::map<std::string, std::string> queue_by_tag;
    for (const std::string& queue : queues) {
      amqp_basic_consume_ok_t* ok = amqp_basic_consume(
          state, AmqpConnection::kChannel, AmqpBytes(queue), amqp_empty_bytes,
          /*no_local=*/0, /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
      RETURN_IF_ERROR(
          connection->CheckLastReply(absl::StrCat("consume ", queue)));
      queue_by_tag[ToString(ok->consumer_tag)] = queue;
    }
    *consumed = true;
    spdlog::info("queue: consuming {} queue(s) on {}", queues.size(),
                 connection->node());

    const struct timeval poll = ToTimeval(kPollInterval);
    const struct timeval now = {};
    std::vector<Delivery> batch;
    std::vector<uint64_t> tags;
    while (!stop->load()) {
      amqp_maybe_release_buffers(state);
      batch.clear();
      tags.clear();
      // Waits for one delivery, then takes those already here.
      while (static_cast<int>(batch.size()) < max_batch) {
        amqp_envelope_t envelope;
        amqp_rpc_reply_t reply = amqp_consume_message(
            state, &envelope, batch.empty() ? &poll : &now, 0);
        if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            reply.library_error == AMQP_STATUS_TIMEOUT) {
          break;
        }
        if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
          // A method frame (a close, a cancel): the batch so far is still
          // handled if the connection lives on; if not, the broker gives
          // its deliveries to another consumer.
          RETURN_IF_ERROR(HandleOtherFrame(connection.get()));
          break;
        }
        RETURN_IF_ERROR(connection->CheckReply(reply, "consume"));
        Delivery& delivery = batch.emplace_back();
        delivery.queue = queue_by_tag[ToString(envelope.consumer_tag)];
        delivery.routing_key = ToString(envelope.routing_key);
        delivery.body = ToString(envelope.message.body);
        delivery.redelivered = envelope.redelivered != 0;
        tags.push_back(envelope.delivery_tag);
        amqp_destroy_envelope(&envelope);
      }
      if (batch.empty()) continue;

      if (prepare) prepare(batch);
      for (size_t i = 0; i < batch.size(); ++i) {
        // Stopping: what is not handled yet goes back to the queue with
        // the polite close.
        if (i > 0 && stop->load()) break;
        const Disposition disposition = handler(batch[i]);
        // A failed ack or reject leaves the message unacknowledged; the
        // broker delivers it again after the reconnect, and handlers are
        // idempotent.
        int rc = disposition == Disposition::kAck
                     ? amqp_basic_ack(state, AmqpConnection::kChannel, tags[i],
                                      /*multiple=*/0)
                     : amqp_basic_reject(state, AmqpConnection::kChannel,
                                         tags[i], /*requeue=*/1);
        RETURN_IF_ERROR(connection->CheckLibraryStatus(
            rc, disposition == Disposition::kAck ? "ack" : "reject"));
      }
    }
    // The polite close in the destructor makes the broker requeue whatever
    // was prefetched and not handled.
    return absl::OkStatus();
  }

  // amqp_consume_message saw a frame that is not a delivery.
  absl::Status HandleOtherFrame(AmqpConnection* connection) {
    amqp_frame_t frame;
    struct timeval zero = {};
    int rc = amqp_simple_wait_frame_noblock(connection->state(), &frame, &zero);
    if (rc == AMQP_STATUS_TIMEOUT) return absl::OkStatus();
    RETURN_IF_ERROR(connection->CheckLibraryStatus(rc, "read frame"));
    if (frame.frame_type != AMQP_FRAME_METHOD) return absl::OkStatus();
    const amqp_method_t& method = frame.payload.method;
    if (method.id == AMQP_BASIC_CANCEL_METHOD) {
      // The queue was deleted (or its leader moved away for good). Consuming
      // again tells which: NOT_FOUND stops Run.
      const auto* cancel =
          static_cast<const amqp_basic_cancel_t*>(method.decoded);
      return absl::UnavailableError(absl::StrCat(
          "amqp: broker cancelled consumer ", ToString(cancel->consumer_tag)));
    }
    return connection->HandleClose(method, "consume");
  }

  const BrokerOptions options_;
};

}  // namespace

std::unique_ptr<Consumer> NewAmqpConsumer(const BrokerOptions& options) {
  return std::make_unique<AmqpConsumer>(options);
}

}  // namespace utpost::queue
