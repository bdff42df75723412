#include "adapters/adapter_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/altinn/altinn_factory.h"
#include "adapters/digipost/digipost_factory.h"
#include "adapters/dpi/dpi_factory.h"
#include "adapters/print/print_factory.h"
#include "adapters/registry/registry_factory.h"

namespace utpost::adapters {
namespace {

template <typename Map>
absl::Status Add(Map* map, std::string name, typename Map::mapped_type adapter,
                 bool complete, absl::string_view kind) {
  if (name.empty() || !adapter.make || !complete) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " adapter needs a name and its functions"));
  }
  if (map->count(name) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(kind, " adapter \"", name, "\" is already registered"));
  }
  map->emplace(std::move(name), std::move(adapter));
  return absl::OkStatus();
}

template <typename Map>
std::vector<std::string> Names(const Map& map) {
  std::vector<std::string> names;
  for (const auto& [name, adapter] : map) names.push_back(name);
  return names;
}

// The adapter called `name`, or NOT_FOUND listing the known ones.
template <typename Map>
absl::StatusOr<const typename Map::mapped_type*> Find(const Map& map,
                                                      std::string_view name,
                                                      absl::string_view kind) {
  auto it = map.find(name);
  if (it == map.end()) {
    return absl::NotFoundError(
        absl::StrCat("no ", kind, " adapter \"", std::string(name),
                     "\"; known: ", absl::StrJoin(Names(map), ", ")));
  }
  return &it->second;
}

absl::Status NeedsHttp(const AdapterContext& context, std::string_view name,
                       absl::string_view kind) {
  if (context.http == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        kind, " adapter \"", std::string(name), "\" needs an HTTP client"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AdapterRegistry::RegisterChannel(std::string name,
                                              ChannelAdapter adapter) {
  const bool complete = static_cast<bool>(adapter.configured);
  return Add(&channels_, std::move(name), std::move(adapter), complete,
             "channel");
}

absl::Status AdapterRegistry::RegisterRegistry(std::string name,
                                               RegistryAdapter adapter) {
  return Add(&registries_, std::move(name), std::move(adapter), true,
             "registry");
}

absl::Status AdapterRegistry::RegisterOrganisationRegistry(
    std::string name, OrganisationRegistryAdapter adapter) {
  const bool complete = static_cast<bool>(adapter.configured);
  return Add(&organisation_registries_, std::move(name), std::move(adapter),
             complete, "organisation registry");
}

absl::StatusOr<std::map<std::string, std::string>> AdapterRegistry::ChannelsOf(
    const config::v1::Providers& providers) const {
  std::map<std::string, std::string> served;
  for (const auto& [name, adapter] : channels_) {
    if (!adapter.default_channel.empty() && adapter.configured(providers)) {
      served[adapter.default_channel] = name;
    }
  }
  for (const auto& [channel, name] : providers.channel_adapters()) {
    auto adapter = Find(channels_, name, "channel");
    if (!adapter.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("providers.channel_adapters[", channel,
                       "]: ", adapter.status().message()));
    }
    if (!(*adapter)->configured(providers)) {
      return absl::InvalidArgumentError(
          absl::StrCat("providers.channel_adapters[", channel, "]: adapter \"",
                       name, "\" is chosen but its options are not set"));
    }
    served[channel] = name;
  }
  return served;
}

absl::StatusOr<std::unique_ptr<Channel>> AdapterRegistry::MakeChannel(
    std::string_view name, const config::v1::Providers& providers,
    const AdapterContext& context) const {
  auto adapter = Find(channels_, name, "channel");
  if (!adapter.ok()) return adapter.status();
  if (auto s = NeedsHttp(context, name, "channel"); !s.ok()) return s;
  return (*adapter)->make(providers, context);
}

absl::StatusOr<std::unique_ptr<Registry>> AdapterRegistry::MakeRegistry(
    std::string_view name, const config::v1::Providers& providers,
    const AdapterContext& context) const {
  auto adapter = Find(registries_, name, "registry");
  if (!adapter.ok()) return adapter.status();
  if (auto s = NeedsHttp(context, name, "registry"); !s.ok()) return s;
  return (*adapter)->make(providers, context);
}

absl::StatusOr<std::unique_ptr<OrganisationRegistry>>
AdapterRegistry::MakeOrganisationRegistry(
    std::string_view name, const config::v1::Providers& providers,
    const AdapterContext& context) const {
  auto adapter = Find(organisation_registries_, name, "organisation registry");
  if (!adapter.ok()) return adapter.status();
  if (!(*adapter)->configured(providers)) {
    return std::unique_ptr<OrganisationRegistry>();
  }
  if (auto s = NeedsHttp(context, name, "organisation registry"); !s.ok()) {
    return s;
  }
  return (*adapter)->make(providers, context);
}

std::vector<std::string> AdapterRegistry::ChannelNames() const {
  return Names(channels_);
}

std::vector<std::string> AdapterRegistry::RegistryNames() const {
  return Names(registries_);
}

std::vector<std::string> AdapterRegistry::OrganisationRegistryNames() const {
  return Names(organisation_registries_);
}

void RegisterBuiltinAdapters(AdapterRegistry* registry) {
  // Names are fixed and distinct, so registration cannot fail here.
  (void)registry->RegisterChannel("digipost", DigipostAdapter());
  (void)registry->RegisterChannel("dpi", DpiAdapter());
  (void)registry->RegisterChannel("altinn", AltinnAdapter());
  (void)registry->RegisterChannel("print", PrintAdapter());
  (void)registry->RegisterRegistry("krr", KrrAdapter());
  (void)registry->RegisterOrganisationRegistry("brreg", BrregAdapter());
}

}  // namespace utpost::adapters
