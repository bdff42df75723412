#include "adapters/digipost/digipost_factory.h"

#include "adapters/digipost/digipost_channel.h"

namespace utpost::adapters {

ChannelAdapter DigipostAdapter() {
  ChannelAdapter a;
  a.default_channel = "digital";
  a.configured = [](const config::v1::Providers& p) {
    return !p.digipost().url().empty();
  };
  a.make = [](const config::v1::Providers& p, const AdapterContext& context)
      -> absl::StatusOr<std::unique_ptr<Channel>> {
    DigipostOptions options;
    options.base_url = p.digipost().url();
    options.sender_id = p.digipost().sender_id();
    options.signing_key_file = p.digipost().signing_key_file();
    options.certificate_ca_file = p.digipost().certificate_ca_file();
    options.clock = context.clock;
    options.positions = context.feed_positions;
    return NewDigipostChannel(options, context.http);
  };
  return a;
}

}  // namespace utpost::adapters
