#include "adapters/adapter_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/altinn/altinn_channel.h"
#include "adapters/altinn/altinn_token_source.h"
#include "adapters/digipost/digipost_channel.h"
#include "adapters/dpi/dpi_channel.h"
#include "adapters/print/print_channel.h"
#include "adapters/registry/business_registry.h"
#include "adapters/registry/krr_registry.h"
#include "adapters/registry/registry_decorators.h"

namespace utpost::adapters {
namespace {

template <typename Map>
absl::Status Add(Map* map, std::string name, typename Map::mapped_type factory,
                 absl::string_view kind) {
  if (name.empty() || !factory) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " adapter needs a name and a factory"));
  }
  if (map->count(name) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(kind, " adapter \"", name, "\" is already registered"));
  }
  map->emplace(std::move(name), std::move(factory));
  return absl::OkStatus();
}

template <typename Map>
std::vector<std::string> Names(const Map& map) {
  std::vector<std::string> names;
  for (const auto& [name, factory] : map) names.push_back(name);
  return names;
}

template <typename Map>
auto Make(const Map& map, std::string_view name,
          const AdapterSettings& settings, absl::string_view kind)
    -> decltype(map.begin()->second(settings)) {
  auto it = map.find(name);
  if (it == map.end()) {
    return absl::NotFoundError(
        absl::StrCat("no ", kind, " adapter \"", std::string(name),
                     "\"; known: ", absl::StrJoin(Names(map), ", ")));
  }
  if (settings.http == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        kind, " adapter \"", std::string(name), "\" needs an HTTP client"));
  }
  return it->second(settings);
}

// A channel together with the token source it uses, for a channel made
// with a fixed token instead of a shared token source.
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

absl::StatusOr<std::unique_ptr<Channel>> MakeDpi(
    const AdapterSettings& settings) {
  DpiOptions options;
  options.base_url = settings.base_url;
  if (!settings.scope.empty()) options.scope = settings.scope;
  if (!settings.receipt_scope.empty()) {
    options.receipt_scope = settings.receipt_scope;
  }
  options.signing_key_file = settings.signing_key_file;
  options.certificate_file = settings.certificate_file;
  options.provider_certificate_file = settings.provider_certificate_file;
  options.provider_ca_file = settings.provider_ca_file;
  options.sender_id = settings.sender_id;
  options.clock = settings.clock;
  if (settings.tokens != nullptr) {
    return NewDpiChannel(options, settings.http, settings.tokens);
  }
  auto tokens = std::make_unique<StaticTokenSource>(settings.bearer_token);
  auto channel = NewDpiChannel(options, settings.http, tokens.get());
  if (!channel.ok()) return channel.status();
  return std::make_unique<WithOwnTokens>(std::move(tokens),
                                         *std::move(channel));
}

}  // namespace

absl::Status AdapterRegistry::RegisterChannel(std::string name,
                                              ChannelFactory factory) {
  return Add(&channels_, std::move(name), std::move(factory), "channel");
}

absl::Status AdapterRegistry::RegisterRegistry(std::string name,
                                               RegistryFactory factory) {
  return Add(&registries_, std::move(name), std::move(factory), "registry");
}

absl::StatusOr<std::unique_ptr<Channel>> AdapterRegistry::MakeChannel(
    std::string_view name, const AdapterSettings& settings) const {
  return Make(channels_, name, settings, "channel");
}

absl::StatusOr<std::unique_ptr<Registry>> AdapterRegistry::MakeRegistry(
    std::string_view name, const AdapterSettings& settings) const {
  return Make(registries_, name, settings, "registry");
}

absl::Status AdapterRegistry::RegisterOrganisationRegistry(
    std::string name, OrganisationRegistryFactory factory) {
  return Add(&organisation_registries_, std::move(name), std::move(factory),
             "organisation registry");
}

absl::StatusOr<std::unique_ptr<OrganisationRegistry>>
AdapterRegistry::MakeOrganisationRegistry(
    std::string_view name, const AdapterSettings& settings) const {
  return Make(organisation_registries_, name, settings,
              "organisation registry");
}

std::vector<std::string> AdapterRegistry::OrganisationRegistryNames() const {
  return Names(organisation_registries_);
}

std::vector<std::string> AdapterRegistry::ChannelNames() const {
  return Names(channels_);
}

std::vector<std::string> AdapterRegistry::RegistryNames() const {
  return Names(registries_);
}

void RegisterBuiltinAdapters(AdapterRegistry* registry) {
  // Names are fixed and distinct, so registration cannot fail here.
  (void)registry->RegisterChannel(
      "digipost", [](const AdapterSettings& settings) {
        DigipostOptions options;
        options.base_url = settings.base_url;
        options.sender_id = settings.sender_id;
        options.signing_key_file = settings.signing_key_file;
        options.clock = settings.clock;
        options.positions = settings.feed_positions;
        return NewDigipostChannel(options, settings.http);
      });
  (void)registry->RegisterChannel(
      "print",
      [](const AdapterSettings& settings)
          -> absl::StatusOr<std::unique_ptr<Channel>> {
        if (settings.base_url.empty()) {
          return absl::InvalidArgumentError("print.url: must be set");
        }
        PrintOptions options = settings.print;
        options.base_url = settings.base_url;
        return NewPrintChannel(std::move(options), settings.http);
      });
  (void)registry->RegisterChannel("dpi", MakeDpi);
  (void)registry->RegisterRegistry(
      "krr",
      [](const AdapterSettings& settings)
          -> absl::StatusOr<std::unique_ptr<Registry>> {
        if (settings.base_url.empty()) {
          return absl::InvalidArgumentError("registry_url: must be set");
        }
        KrrRegistryOptions options;
        options.base_url = settings.base_url;
        options.bearer_token = settings.bearer_token;
        options.tokens = settings.tokens;
        std::unique_ptr<Registry> registry =
            NewKrrRegistry(std::move(options), settings.http);
        if (settings.batch_window_ms >= 0) {
          BatchingRegistryOptions batching;
          batching.window_ms = settings.batch_window_ms;
          registry = NewBatchingRegistry(std::move(registry), batching);
        }
        RegistryCacheOptions cache;
        cache.lifetime_ms = settings.cache_lifetime_ms;
        cache.clock = settings.clock;
        return NewCachingRegistry(std::move(registry), cache);
      });
  (void)registry->RegisterChannel(
      "altinn",
      [](const AdapterSettings& settings)
          -> absl::StatusOr<std::unique_ptr<Channel>> {
        if (settings.tokens == nullptr) {
          return absl::InvalidArgumentError(
              "altinn: needs providers.maskinporten for its tokens");
        }
        AltinnOptions options;
        options.base_url = settings.base_url;
        options.resource_id = settings.altinn_resource_id;
        if (!settings.altinn_language.empty()) {
          options.language = settings.altinn_language;
        }
        options.notification_email_subject =
            settings.altinn_notification_email_subject;
        options.notification_email_body =
            settings.altinn_notification_email_body;
        options.notification_sms_body = settings.altinn_notification_sms_body;
        options.tokens_owner = NewAltinnTokenSource(
            settings.base_url, settings.tokens, settings.http);
        options.tokens = options.tokens_owner.get();
        options.clock = settings.clock;
        options.positions = settings.feed_positions;
        return NewAltinnChannel(std::move(options), settings.http);
      });
  (void)registry->RegisterOrganisationRegistry(
      "brreg",
      [](const AdapterSettings& settings)
          -> absl::StatusOr<std::unique_ptr<OrganisationRegistry>> {
        if (settings.base_url.empty()) {
          return absl::InvalidArgumentError(
              "business_registry.url: must be set");
        }
        BusinessRegistryOptions options;
        options.base_url = settings.base_url;
        std::shared_ptr<TokenSource> altinn_tokens;
        if (!settings.altinn_url.empty()) {
          if (settings.tokens == nullptr) {
            return absl::InvalidArgumentError(
                "business_registry: asking Altinn who has an inbox needs "
                "providers.maskinporten");
          }
          altinn_tokens = NewAltinnTokenSource(settings.altinn_url,
                                               settings.tokens, settings.http);
          options.altinn_url = settings.altinn_url;
          options.altinn_tokens = altinn_tokens.get();
        }
        RegistryCacheOptions cache;
        cache.lifetime_ms = settings.cache_lifetime_ms;
        cache.clock = settings.clock;
        return NewCachingOrganisationRegistry(
            NewBusinessRegistry(std::move(options), settings.http,
                                std::move(altinn_tokens)),
            cache);
      });
}

}  // namespace utpost::adapters
