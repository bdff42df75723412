// The worker role's outside world: the HTTP client, Maskinporten tokens,
// the person and business registries and the delivery channels, made by
// name through the adapter registry (adapters/adapter_registry.h).
#ifndef UTPOST_GATEWAY_OUTSIDE_WORLD_H_
#define UTPOST_GATEWAY_OUTSIDE_WORLD_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/channel.h"
#include "adapters/http/http_client.h"
#include "adapters/http/token_source.h"
#include "adapters/instrumented_channel.h"
#include "gateway/store/store.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::gateway {

// Members in dependency order: each may use those above it, so the
// implicit destructor takes the channels down before what they use.
struct OutsideWorld {
  std::unique_ptr<adapters::HttpClient> http;
  // Maskinporten tokens; null when providers.maskinporten is not set.
  std::unique_ptr<adapters::TokenSource> tokens;
  // Where the channels are in their providers' event feeds (the store).
  std::unique_ptr<adapters::FeedPositions> feed_positions;
  std::unique_ptr<adapters::Registry> registry;
  // The business registry; null: organisations go to print.
  std::unique_ptr<adapters::OrganisationRegistry> organisations;
  // By routing name; exactly ConfiguredChannels(), each instrumented.
  std::map<std::string, std::unique_ptr<adapters::Channel>> channels;

  std::map<std::string, adapters::Channel*> ChannelMap() const;
};

// Builds the outside world of `config.providers()`. Every send of every
// channel is reported to `observers` (not owned; they outlive the result).
// `store` (not owned) keeps the feed positions and outlives the result.
// INVALID_ARGUMENT naming the setting for a bad provider setting.
absl::StatusOr<std::unique_ptr<OutsideWorld>> BuildOutsideWorld(
    const config::v1::Config& config, store::Store* store,
    const std::vector<adapters::ChannelObserver*>& observers);

}  // namespace utpost::gateway

#endif  // UTPOST_GATEWAY_OUTSIDE_WORLD_H_
