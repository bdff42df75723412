// A Channel decorator that reports each send's channel, latency and outcome
// to an observer (metrics, error-rate tracking), leaving the send itself
// unchanged.
#ifndef UTPOST_ADAPTERS_INSTRUMENTED_CHANNEL_H_
#define UTPOST_ADAPTERS_INSTRUMENTED_CHANNEL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/channel.h"

namespace utpost::adapters {

// Told of every send. Implementations are thread-safe and quick (called on
// the delivering thread).
class ChannelObserver {
 public:
  virtual ~ChannelObserver() = default;
  virtual void OnSend(const std::string& channel, absl::Duration latency,
                      const absl::Status& status) = 0;
};

// Owns `inner`; `observer` is not owned and outlives this. Thread-safe as
// `inner` is.
class InstrumentedChannel final : public Channel {
 public:
  InstrumentedChannel(std::unique_ptr<Channel> inner, ChannelObserver* observer)
      : inner_(std::move(inner)), observer_(observer) {}

  std::string name() const override { return inner_->name(); }

  absl::StatusOr<SendResult> Send(const OutgoingLetter& letter) override {
    const absl::Time start = absl::Now();
    auto result = inner_->Send(letter);
    observer_->OnSend(inner_->name(), absl::Now() - start, result.status());
    return result;
  }

  absl::StatusOr<std::vector<ProviderEvent>> FetchEvents(int max) override {
    return inner_->FetchEvents(max);
  }
  absl::Status ConfirmEvents(
      const std::vector<std::string>& event_ids) override {
    return inner_->ConfirmEvents(event_ids);
  }

 private:
  std::unique_ptr<Channel> inner_;
  ChannelObserver* const observer_;
};

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_INSTRUMENTED_CHANNEL_H_
