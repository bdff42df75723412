#include "adapters/altinn/altinn_factory.h"

#include <utility>

#include "adapters/altinn/altinn_channel.h"
#include "adapters/altinn/altinn_token_source.h"

namespace utpost::adapters {

ChannelAdapter AltinnAdapter() {
  ChannelAdapter a;
  a.default_channel = "altinn";
  a.configured = [](const config::v1::Providers& p) {
    return !p.altinn().url().empty();
  };
  a.make = [](const config::v1::Providers& p, const AdapterContext& context)
      -> absl::StatusOr<std::unique_ptr<Channel>> {
    if (context.tokens == nullptr) {
      return absl::InvalidArgumentError(
          "altinn: needs providers.maskinporten for its tokens");
    }
    const config::v1::Altinn& altinn = p.altinn();
    AltinnOptions options;
    options.base_url = altinn.url();
    options.resource_id = altinn.resource_id();
    if (!altinn.language().empty()) options.language = altinn.language();
    options.notification_email_subject = altinn.notification_email_subject();
    options.notification_email_body = altinn.notification_email_body();
    options.notification_sms_body = altinn.notification_sms_body();
    options.tokens_owner =
        NewAltinnTokenSource(altinn.url(), context.tokens, context.http);
    options.tokens = options.tokens_owner.get();
    options.clock = context.clock;
    options.positions = context.feed_positions;
    return NewAltinnChannel(std::move(options), context.http);
  };
  return a;
}

}  // namespace utpost::adapters
