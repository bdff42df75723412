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
  options.certificate_root_file = dpi.certificate_root_file();
  if (!dpi.language().empty()) options.language = dpi.language();
  if (!dpi.non_sensitive_title().empty()) {
    options.non_sensitive_title = dpi.non_sensitive_title();
  }
  if (!dpi.notification_text().empty()) {
    options.notification_text = dpi.notification_text();
  }
  options.print_provider = dpi.print_provider();
  options.print_certificate_file = dpi.print_certificate_file();
  // The registry step is the channel's: the mailbox as the registry has it
  // at the time of sending.
  options.registry = context.persons;
  options.clock = context.clock;
  return options;
}

using MakeFunction = absl::StatusOr<std::unique_ptr<Channel>> (*)(
    const DpiOptions&, HttpClient*, TokenSource*);

absl::StatusOr<std::unique_ptr<Channel>> Make(MakeFunction make,
                                              const DpiOptions& options,
                                              const AdapterContext& context) {
  if (context.tokens != nullptr) {
    return make(options, context.http, context.tokens);
  }
  auto tokens = std::make_unique<StaticTokenSource>("");
  auto channel = make(options, context.http, tokens.get());
  if (!channel.ok()) return channel.status();
  return std::make_unique<WithOwnTokens>(std::move(tokens),
                                         *std::move(channel));
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
    return Make(&NewDpiChannel, OptionsOf(p.dpi(), context), context);
  };
  return a;
}

ChannelAdapter DpiPrintAdapter() {
  ChannelAdapter a;
  // Serves the print channel only when providers.channel_adapters says so.
  a.default_channel = "";
  a.configured = [](const config::v1::Providers& p) {
    return !p.dpi().url().empty() && !p.dpi().print_provider().empty();
  };
  a.make = [](const config::v1::Providers& p, const AdapterContext& context)
      -> absl::StatusOr<std::unique_ptr<Channel>> {
    return Make(&NewDpiPrintChannel, OptionsOf(p.dpi(), context), context);
  };
  return a;
}

}  // namespace utpost::adapters
