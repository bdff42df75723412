// Channels and registries by name. Each adapter lives in its own folder
// with a factory that reads its own options message of the configuration
// (`providers.digipost`, `providers.dpi`, ...); the process registers the
// adapters it has with one explicit call, then makes the configured ones by
// name. Adding an adapter touches its folder, RegisterBuiltinAdapters and,
// for a new kind of recipient, the routing table
// (gateway/dispatch/routing.h).
//
//   AdapterRegistry adapters;
//   RegisterBuiltinAdapters(&adapters);
//   ASSIGN_OR_RETURN(auto served, adapters.ChannelsOf(config.providers()));
//   for (const auto& [channel, adapter] : served) {
//     ASSIGN_OR_RETURN(channels[channel],
//                      adapters.MakeChannel(adapter, providers, context));
//   }
#ifndef UTPOST_ADAPTERS_ADAPTER_REGISTRY_H_
#define UTPOST_ADAPTERS_ADAPTER_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "adapters/adapter.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::adapters {

// Register everything first, from one thread; after that the const methods
// may be called from any number of threads.
class AdapterRegistry final {
 public:
  // ALREADY_EXISTS when `name` is taken; INVALID_ARGUMENT for an empty name
  // or a missing function.
  absl::Status RegisterChannel(std::string name, ChannelAdapter adapter);
  absl::Status RegisterRegistry(std::string name, RegistryAdapter adapter);
  absl::Status RegisterOrganisationRegistry(
      std::string name, OrganisationRegistryAdapter adapter);

  // The routing channels `providers` sets up, each with the name of the
  // adapter that serves it: every configured adapter's default channel,
  // then `providers.channel_adapters` (channel -> adapter) on top.
  // INVALID_ARGUMENT for an unknown adapter name or one chosen without its
  // options.
  absl::StatusOr<std::map<std::string, std::string>> ChannelsOf(
      const config::v1::Providers& providers) const;

  // NOT_FOUND, listing the known names, for a name never registered;
  // INVALID_ARGUMENT without context.http; otherwise what the factory
  // returns.
  absl::StatusOr<std::unique_ptr<Channel>> MakeChannel(
      std::string_view name, const config::v1::Providers& providers,
      const AdapterContext& context) const;
  absl::StatusOr<std::unique_ptr<Registry>> MakeRegistry(
      std::string_view name, const config::v1::Providers& providers,
      const AdapterContext& context) const;
  // Null (not an error) when the adapter is not configured.
  absl::StatusOr<std::unique_ptr<OrganisationRegistry>>
  MakeOrganisationRegistry(std::string_view name,
                           const config::v1::Providers& providers,
                           const AdapterContext& context) const;

  // Registered names, sorted.
  std::vector<std::string> ChannelNames() const;
  std::vector<std::string> RegistryNames() const;
  std::vector<std::string> OrganisationRegistryNames() const;

 private:
  std::map<std::string, ChannelAdapter, std::less<>> channels_;
  std::map<std::string, RegistryAdapter, std::less<>> registries_;
  std::map<std::string, OrganisationRegistryAdapter, std::less<>>
      organisation_registries_;
};

// Registers the channel adapters "digipost" (channel "digital"), "dpi",
// "altinn" and "print", the registry "krr" (batched and cached as the
// configuration says) and the organisation registry "brreg" (cached).
void RegisterBuiltinAdapters(AdapterRegistry* registry);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_ADAPTER_REGISTRY_H_
