// What an adapter is to the process that uses it: the shared services it
// may use (AdapterContext) and, per adapter, when the configuration sets it
// up and how it is made from its own options message (ChannelAdapter and
// friends). Each adapter's folder has a factory returning one of these;
// adapters/adapter_registry.h keeps them by name.
#ifndef UTPOST_ADAPTERS_ADAPTER_H_
#define UTPOST_ADAPTERS_ADAPTER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/channel.h"
#include "adapters/http/http_client.h"
#include "adapters/http/token_source.h"
#include "common/clock.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::adapters {

// The shared services a factory may hand to what it makes. Nothing is
// owned; everything must outlive what the factories make.
struct AdapterContext {
  // Required.
  HttpClient* http = nullptr;
  // Null: the real clock.
  const Clock* clock = nullptr;
  // Maskinporten tokens (providers.maskinporten); null when not configured.
  TokenSource* tokens = nullptr;
  // Where event feeds read by position are, shared by every worker. Null:
  // in memory only.
  FeedPositions* feed_positions = nullptr;
  // The contact registry, for channels that need its answer at the time
  // of sending (DPI encrypts to the mailbox's certificate). Null when the
  // process has none (then such channels cannot be made).
  Registry* persons = nullptr;
};

// One channel adapter: when the configuration sets it up, and how it is
// made from the configuration.
struct ChannelAdapter {
  // The routing channel (gateway/dispatch/routing.h) it serves unless
  // `providers.channel_adapters` names another adapter for that channel;
  // empty: it serves a channel only when chosen there.
  std::string default_channel;
  // True when `providers` holds this adapter's options (for example its
  // URL). Required.
  std::function<bool(const config::v1::Providers&)> configured;
  // Makes the channel; INVALID_ARGUMENT names the option that is wrong.
  std::function<absl::StatusOr<std::unique_ptr<Channel>>(
      const config::v1::Providers&, const AdapterContext&)>
      make;
};

struct RegistryAdapter {
  std::function<absl::StatusOr<std::unique_ptr<Registry>>(
      const config::v1::Providers&, const AdapterContext&)>
      make;
};

struct OrganisationRegistryAdapter {
  // True when `providers` sets it up; without one, organisations go to
  // print with the address the letter gives.
  std::function<bool(const config::v1::Providers&)> configured;
  std::function<absl::StatusOr<std::unique_ptr<OrganisationRegistry>>(
      const config::v1::Providers&, const AdapterContext&)>
      make;
};

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_ADAPTER_H_
