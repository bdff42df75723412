#include "adapters/instrumented_channel.h"

#include <utility>

namespace utpost::adapters {

InstrumentedChannel::InstrumentedChannel(
    std::unique_ptr<Channel> inner, std::vector<ChannelObserver*> observers)
    : inner_(std::move(inner)), observers_(std::move(observers)) {}

absl::StatusOr<SendResult> InstrumentedChannel::Send(
    const OutgoingLetter& letter) {
  const absl::Time start = absl::Now();
  absl::StatusOr<SendResult> result = inner_->Send(letter);
  const absl::Duration latency = absl::Now() - start;
  const std::string channel = inner_->name();
  for (ChannelObserver* o : observers_) {
    o->OnSend(channel, latency, result.status());
  }
  return result;
}

}  // namespace utpost::adapters
