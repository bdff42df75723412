// A Channel decorator that times every Send and tells observers how it
// went: the seam for provider figures (error rate, latency) without the
// adapters knowing who watches them.
#ifndef UTPOST_ADAPTERS_INSTRUMENTED_CHANNEL_H_
#define UTPOST_ADAPTERS_INSTRUMENTED_CHANNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "adapters/channel.h"

namespace utpost::adapters {

// Told about each send to a provider. Implementations are thread-safe:
// OnSend is called from every delivering thread at once.
class ChannelObserver {
 public:
  virtual ~ChannelObserver() = default;
  // `channel` is Channel::name(); `status` is OK or the error Send returned.
  virtual void OnSend(const std::string& channel, absl::Duration latency,
                      const absl::Status& status) = 0;
};

// Wraps `inner` (owned); Send calls it and then every observer, on the
// calling thread. Observers are not owned and outlive this. Thread-safe as
// the inner channel is.
class InstrumentedChannel final : public Channel {
 public:
  InstrumentedChannel(std::unique_ptr<Channel> inner,
                      std::vector<ChannelObserver*> observers);

  std::string name() const override { return inner_->name(); }
  absl::StatusOr<SendResult> Send(const OutgoingLetter& letter) override;
  absl::StatusOr<std::vector<ProviderEvent>> FetchEvents(int max) override {
    return inner_->FetchEvents(max);
  }
  absl::Status ConfirmEvents(
      const std::vector<std::string>& event_ids) override {
    return inner_->ConfirmEvents(event_ids);
  }

 private:
  const std::unique_ptr<Channel> inner_;
  const std::vector<ChannelObserver*> observers_;
};

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_INSTRUMENTED_CHANNEL_H_
