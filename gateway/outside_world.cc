#include "gateway/outside_world.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/adapter_registry.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/http/maskinporten_token_source.h"
#include "common/status_macros.h"
#include "gateway/dispatch/feed_positions.h"
#include "gateway/settings.h"

namespace utpost::gateway {

std::map<std::string, adapters::Channel*> OutsideWorld::ChannelMap() const {
  std::map<std::string, adapters::Channel*> out;
  for (const auto& [name, c] : channels) out[name] = c.get();
  return out;
}

absl::StatusOr<std::unique_ptr<OutsideWorld>> BuildOutsideWorld(
    const config::v1::Config& config, store::Store* store,
    const std::vector<adapters::ChannelObserver*>& observers) {
  const config::v1::Providers& p = config.providers();
  adapters::AdapterRegistry known;
  adapters::RegisterBuiltinAdapters(&known);
  auto w = std::make_unique<OutsideWorld>();
  w->feed_positions = std::make_unique<dispatch::StoreFeedPositions>(store);
  adapters::CurlHttpClientOptions http_options;
  http_options.ca_file = p.ca_file();
  http_options.timeout_ms = int64_t{p.timeout_seconds()} * 1000;
  auto http = adapters::NewCurlHttpClient(http_options);
  if (!http.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.ca_file: ", http.status().message()));
  }
  w->http = std::move(*http);

  if (!p.maskinporten().token_url().empty()) {
    adapters::MaskinportenOptions token;
    token.token_url = p.maskinporten().token_url();
    token.audience = p.maskinporten().audience();
    token.client_id = p.maskinporten().client_id();
    token.key_file = p.maskinporten().key_file();
    token.cert_chain_file = p.maskinporten().cert_chain_file();
    auto tokens = adapters::NewMaskinportenTokenSource(token, w->http.get());
    if (!tokens.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("providers.maskinporten.", tokens.status().message()));
    }
    w->tokens = std::move(*tokens);
  }

  adapters::AdapterContext context;
  context.http = w->http.get();
  context.tokens = w->tokens.get();
  context.feed_positions = w->feed_positions.get();
  auto registry = known.MakeRegistry("krr", p, context);
  if (!registry.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.", registry.status().message()));
  }
  w->registry = std::move(*registry);
  context.persons = w->registry.get();
  auto organisations = known.MakeOrganisationRegistry("brreg", p, context);
  if (!organisations.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.", organisations.status().message()));
  }
  w->organisations = std::move(*organisations);

  ASSIGN_OR_RETURN(auto channels, ConfiguredChannels(config));
  for (const auto& [name, adapter] : channels) {
    auto channel = known.MakeChannel(adapter, p, context);
    if (!channel.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "providers.", adapter, ": ", channel.status().message()));
    }
    // Every send is timed and counted (provider figures and metrics).
    w->channels[name] = std::make_unique<adapters::InstrumentedChannel>(
        std::move(*channel), observers);
  }
  return w;
}

}  // namespace utpost::gateway
