// The confirming publisher. rabbitmq-c 0.11 has no helper for publisher
// confirms, so this reads basic.ack / basic.nack frames itself.

#include <amqp.h>
#include <amqp_framing.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
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

using Clock = std::chrono::steady_clock;

// Which messages of one PublishAll the broker has confirmed, over all the
// connections the call used.
class Confirmations {
 public:
  explicit Confirmations(size_t size) : confirmed_(size, false) {}

  bool confirmed(size_t index) const { return confirmed_[index]; }
  void Confirm(size_t index) {
    if (!confirmed_[index]) {
      confirmed_[index] = true;
      ++done_;
    }
  }
  size_t done() const { return done_; }
  size_t size() const { return confirmed_.size(); }

  // The messages not confirmed yet, in their order.
  std::vector<size_t> Open() const {
    std::vector<size_t> open;
    open.reserve(confirmed_.size() - done_);
    for (size_t i = 0; i < confirmed_.size(); ++i) {
      if (!confirmed_[i]) open.push_back(i);
    }
    return open;
  }

 private:
  std::vector<bool> confirmed_;
  size_t done_ = 0;
};

// The publishes of one attempt on one connection. Delivery tags count
// publishes on the channel from 1; this attempt sends `order` (indices into
// the call's messages) as tags first_tag .. first_tag + order.size() - 1.
class ConfirmWindow {
 public:
  ConfirmWindow(uint64_t first_tag, std::vector<size_t> order,
                Confirmations* confirmations)
      : first_tag_(first_tag),
        order_(std::move(order)),
        acked_(order_.size(), false),
        confirmations_(confirmations) {}

  size_t NextToSend() const { return order_[sent_]; }
  void Sent() { ++sent_; }
  size_t sent() const { return sent_; }
  size_t size() const { return order_.size(); }
  size_t outstanding() const { return sent_ - done_; }
  bool all_confirmed() const { return done_ == order_.size(); }

  // Records basic.ack; `multiple` covers every tag up to `tag`.
  absl::Status Ack(uint64_t tag, bool multiple) {
    if (tag < first_tag_ || tag - first_tag_ >= sent_) {
      return absl::UnavailableError(
          absl::StrCat("amqp: confirm for unknown delivery tag ", tag));
    }
    const size_t index = tag - first_tag_;
    if (multiple) {
      for (size_t i = lowest_open_; i <= index; ++i) Mark(i);
    } else {
      Mark(index);
    }
    while (lowest_open_ < acked_.size() && acked_[lowest_open_]) {
      ++lowest_open_;
    }
    return absl::OkStatus();
  }

 private:
  void Mark(size_t index) {
    if (!acked_[index]) {
      acked_[index] = true;
      ++done_;
      confirmations_->Confirm(order_[index]);
    }
  }

  const uint64_t first_tag_;
  const std::vector<size_t> order_;
  std::vector<bool> acked_;
  Confirmations* const confirmations_;
  size_t sent_ = 0;
  size_t done_ = 0;
  size_t lowest_open_ = 0;
};

// A failure that publishing again cannot mend: the message is unroutable,
// the exchange is missing, the broker refuses the user, the options are bad.
bool IsPermanent(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
      return true;
    default:
      return false;
  }
}

class AmqpPublisher final : public Publisher {
 public:
  explicit AmqpPublisher(const BrokerOptions& options) : options_(options) {}

  absl::Status PublishAll(
      const std::vector<OutgoingMessage>& messages) override {
    if (messages.empty()) return absl::OkStatus();
    Confirmations confirmations(messages.size());
    std::optional<Clock::time_point> give_up;
    std::chrono::milliseconds backoff = options_.reconnect_backoff_min;
    int attempt = 0;
    for (;;) {
      ++attempt;
      absl::Status status = EnsureConnected();
      const bool connected = status.ok();
      if (connected) status = PublishAndConfirm(messages, &confirmations);
      last_used_ = Clock::now();
      if (status.ok()) {
        if (attempt > 1) {
          spdlog::info(
              "queue: publisher republished on {}; all {} messages confirmed",
              connection_->node(), messages.size());
        }
        return status;
      }
      // Whatever the broker still holds for this connection is unknown; a
      // new connection starts clean, on the next node.
      DropConnection();
      if (!connected || IsPermanent(status)) return Failed(status);
      const Clock::time_point now = Clock::now();
      if (!give_up.has_value()) give_up = now + options_.failover_timeout;
      if (now >= *give_up) return Failed(status);
      spdlog::warn(
          "queue: publisher lost its connection ({}); {} of {} messages "
          "unconfirmed, publishing them again",
          std::string(status.message()),
          confirmations.size() - confirmations.done(), messages.size());
      // The first retry goes at once-ish; one that keeps failing (a queue
      // that refuses) is not a busy loop.
      std::this_thread::sleep_for(
          std::min<Clock::duration>(backoff, *give_up - now));
      backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
    }
  }

 private:
  // What PublishAll returns for `status`: the caller publishes again later.
  static absl::Status Failed(const absl::Status& status) {
    if (status.code() == absl::StatusCode::kUnavailable ||
        status.code() == absl::StatusCode::kInvalidArgument) {
      return status;
    }
    return absl::UnavailableError(status.message());
  }

  void DropConnection() {
    if (connection_ == nullptr) return;
    connection_->MarkUnusable();
    connection_.reset();
    // The node may be going away; the next connection tries another first.
    if (ring_.has_value()) ring_->Advance();
  }

  absl::Status EnsureConnected() {
    if (!ring_.has_value()) {
      ASSIGN_OR_RETURN(NodeRing ring, NodeRing::Of(options_));
      ring_.emplace(std::move(ring));
    }
    if (connection_ != nullptr && !connection_->usable()) connection_.reset();
    if (connection_ != nullptr) {
      // Heartbeats are only sent from inside library calls, so an idle
      // publisher may already have been dropped by the broker; a fresh
      // connection is cheaper than a failed batch.
      const int heartbeat = connection_->heartbeat_seconds();
      if (heartbeat > 0 &&
          Clock::now() - last_used_ >= std::chrono::seconds(heartbeat)) {
        connection_.reset();
      } else if (!connection_->DrainPending().ok()) {
        DropConnection();
      }
    }
    if (connection_ != nullptr) return absl::OkStatus();

    ASSIGN_OR_RETURN(std::unique_ptr<AmqpConnection> connection,
                     AmqpConnection::Open(options_, &*ring_));
    amqp_confirm_select(connection->state(), AmqpConnection::kChannel);
    RETURN_IF_ERROR(connection->CheckLastReply("confirm.select"));
    connection_ = std::move(connection);
    next_tag_ = 1;
    return absl::OkStatus();
  }

  // Publishes every message not in `*confirmations` yet on the current
  // connection and waits for their confirms.
  absl::Status PublishAndConfirm(const std::vector<OutgoingMessage>& messages,
                                 Confirmations* confirmations) {
    amqp_connection_state_t state = connection_->state();
    amqp_basic_properties_t properties = {};
    properties._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;

    ConfirmWindow window(next_tag_, confirmations->Open(), confirmations);
    const size_t max_in_flight = static_cast<size_t>(options_.max_in_flight);
    Clock::time_point last_progress = Clock::now();
    while (!window.all_confirmed()) {
      while (window.sent() < window.size() &&
             window.outstanding() < max_in_flight) {
        const OutgoingMessage& m = messages[window.NextToSend()];
        int rc = amqp_basic_publish(
            state, AmqpConnection::kChannel, AmqpBytes(m.exchange),
            AmqpBytes(m.routing_key), /*mandatory=*/1, /*immediate=*/0,
            &properties, AmqpBytes(m.body));
        RETURN_IF_ERROR(connection_->CheckLibraryStatus(
            rc, absl::StrCat("publish on ", connection_->node())));
        window.Sent();
        ++next_tag_;
      }

      const auto waited = Clock::now() - last_progress;
      if (waited >= options_.confirm_timeout) {
        return absl::UnavailableError(absl::StrCat(
            "amqp: no publisher confirm from ", connection_->node(), " within ",
            options_.confirm_timeout.count(), " ms (", window.outstanding(),
            " of ", window.size(), " outstanding)"));
      }
      struct timeval wait =
          ToTimeval(std::chrono::duration_cast<std::chrono::milliseconds>(
              options_.confirm_timeout - waited));
      const size_t before = window.outstanding();
      RETURN_IF_ERROR(ReadFrames(&wait, &window));
      if (window.outstanding() < before) last_progress = Clock::now();
    }
    return absl::OkStatus();
  }

  // Waits up to `wait` for one frame, then takes every frame that is already
  // buffered, so that one multiple ack does not cost one wait each.
  absl::Status ReadFrames(const struct timeval* wait, ConfirmWindow* window) {
    amqp_connection_state_t state = connection_->state();
    struct timeval zero = {};
    const struct timeval* timeout = wait;
    for (;;) {
      amqp_frame_t frame;
      int rc = amqp_simple_wait_frame_noblock(state, &frame, timeout);
      if (rc == AMQP_STATUS_TIMEOUT) return absl::OkStatus();
      RETURN_IF_ERROR(connection_->CheckLibraryStatus(
          rc, absl::StrCat("wait for publisher confirms from ",
                           connection_->node())));
      RETURN_IF_ERROR(HandleFrame(frame, window));
      if (!amqp_frames_enqueued(state) && !amqp_data_in_buffer(state)) {
        return absl::OkStatus();
      }
      timeout = &zero;
    }
  }

  absl::Status HandleFrame(const amqp_frame_t& frame, ConfirmWindow* window) {
    // Header and body frames follow a basic.return, which already failed
    // the batch.
    if (frame.frame_type != AMQP_FRAME_METHOD) return absl::OkStatus();
    const amqp_method_t& method = frame.payload.method;
    switch (method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
        return window->Ack(ack->delivery_tag, ack->multiple != 0);
      }
      case AMQP_BASIC_NACK_METHOD: {
        // A queue could not take it now (a quorum queue without a leader,
        // a full queue): worth another try.
        const auto* nack =
            static_cast<const amqp_basic_nack_t*>(method.decoded);
        return absl::UnavailableError(absl::StrCat(
            "amqp: broker refused message with delivery tag ",
            nack->delivery_tag, nack->multiple ? " (and earlier)" : ""));
      }
      case AMQP_BASIC_RETURN_METHOD: {
        // No queue is bound for it: publishing again would not help.
        const auto* ret =
            static_cast<const amqp_basic_return_t*>(method.decoded);
        return absl::FailedPreconditionError(
            absl::StrCat("amqp: message returned unroutable: exchange '",
                         ToString(ret->exchange), "' routing key '",
                         ToString(ret->routing_key), "': ", ret->reply_code,
                         " ", ToString(ret->reply_text)));
      }
      default:
        return connection_->HandleClose(method, "publish");
    }
  }

  const BrokerOptions options_;
  std::optional<NodeRing> ring_;
  std::unique_ptr<AmqpConnection> connection_;
  // Delivery tag the broker will give the next publish on this channel.
  uint64_t next_tag_ = 1;
  Clock::time_point last_used_ = Clock::now();
};

}  // namespace

std::unique_ptr<Publisher> NewAmqpPublisher(const BrokerOptions& options) {
  return std::make_unique<AmqpPublisher>(options);
}

}  // namespace utpost::queue
