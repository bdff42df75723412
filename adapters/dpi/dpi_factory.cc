#include "adapters/dpi/dpi_factory.h"

#include <utility>

#include "adapters/dpi/dpi_channel.h"

namespace utpost::adapters {
namespace {

// A channel together with the token source it uses, for a channel made
// without a shared token source (no providers.maskinporten).
class WithOwnTokens final : public Channel {
 public:
  WithOwnTokens(std::unique_ptr<TokenSource> tokens,
                std::unique_ptr<Channel> channel)
      : tokens_(std::move(tokens)), channel_(std::move(channel)) {}
  std::string name() const override { return channel_->name(); }
  absl::StatusOr<SendResult> Send(const OutgoingLetter& letter) override {
    return channel_->Send(letter);
  }
  absl::StatusOr<std::vector<ProviderEvent>> FetchEvents(int max) override {
    return channel_->FetchEvents(max);
  }
  absl::Status ConfirmEvents(const std::vector<std::string>& ids) override {
    return channel_->ConfirmEvents(ids);
  }

 private:
  const std::unique_ptr<TokenSource> tokens_;  // Outlives channel_.
  const std::unique_ptr<Channel> channel_;
};

DpiOptions OptionsOf(const config::v1::Dpi& dpi,
                     const AdapterContext& context) {
  DpiOptions options;
  options.base_url = dpi.url();
  if (!dpi.scope().empty()) options.scope = dpi.scope();
  if (!dpi.receipt_scope().empty()) options.receipt_scope = dpi.receipt_scope();
  options.signing_key_file = dpi.signing_key_file();
  options.certificate_file = dpi.certificate_file();
  options.provider_certificate_file = dpi.provider_certificate_file();
  options.provider_ca_file = dpi.provider_ca_file();
  options.sender_id = dpi.sender_id();
  options.kanal = dpi.kanal();
  if (dpi.receipt_page_size() != 0) {
    options.receipt_page_size = dpi.receipt_page_size();
  }
  options.clock = context.clock;
  return options;
}

}  // namespace

ChannelAdapter DpiAdapter() {
  ChannelAdapter a;
  a.default_channel = "dpi";
  a.configured = [](const config::v1::Providers& p) {
    return !p.dpi().url().empty();
  };
  a.make = [](const config::v1::Providers& p, const AdapterContext& context)
      -> absl::StatusOr<std::unique_ptr<Channel>> {
    DpiOptions options = OptionsOf(p.dpi(), context);
    if (context.tokens != nullptr) {
      return NewDpiChannel(options, context.http, context.tokens);
    }
    auto tokens = std::make_unique<StaticTokenSource>("");
    auto channel = NewDpiChannel(options, context.http, tokens.get());
    if (!channel.ok()) return channel.status();
    return std::make_unique<WithOwnTokens>(std::move(tokens),
                                           *std::move(channel));
  };
  return a;
}

}  // namespace utpost::adapters
