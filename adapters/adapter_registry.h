// Channels and registries by name. Configuration names an adapter
// ("digipost", "print", "krr"); the process registers the adapters it has
// with one explicit call, then makes the configured ones by name.
//
//   AdapterRegistry adapters;
//   RegisterBuiltinAdapters(&adapters);
//   ASSIGN_OR_RETURN(auto channel, adapters.MakeChannel("digipost", settings));
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
#include "adapters/channel.h"
#include "adapters/http/http_client.h"
#include "adapters/http/token_source.h"
#include "adapters/print/print_channel.h"
#include "common/clock.h"

namespace utpost::adapters {

// What a factory gets: the settings of one configured adapter plus the
// shared services. An adapter reads the fields it needs and ignores the
// rest.
struct AdapterSettings {
  // Base URL of the service, e.g. "https://127.0.0.1:8443". Required.
  std::string base_url;
  // Digipost: the sender's id and its RSA signing key (PEM).
  std::string sender_id;
  std::string signing_key_file;
  // Registry: static bearer token; empty sends none.
  std::string bearer_token;
  // DPI (#3): the business certificate chain (PEM) of signing_key_file,
  // the provider's receipt certificate and/or CA (PEM) and token scopes
  // (empty: the adapter's defaults); tokens come from `tokens` below (null:
  // a fixed `bearer_token`).
  std::string certificate_file;
  std::string provider_certificate_file;
  std::string provider_ca_file;
  std::string scope;
  std::string receipt_scope;
  // Not owned; must outlive what the factory makes. Required.
  HttpClient* http = nullptr;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
  // Print: batching and the cover page; its base_url is ignored (base_url
  // above counts).
  PrintOptions print;

  // Channels and registries (#3).
  // Maskinporten tokens (NewMaskinportenTokenSource). Registry "krr" and
  // channel "dpi": sent instead of bearer_token when set. Channel "altinn"
  // and organisation registry "brreg": exchanged for Altinn tokens;
  // required for "altinn".
  // Not owned; must outlive what the factory makes.
  TokenSource* tokens = nullptr;
  // Registries: how long an answer is reused; 0 disables. Default 1 hour.
  int64_t cache_lifetime_ms = 60 * 60 * 1000;
  // Registry "krr": concurrent look-ups are gathered into one request
  // (NewBatchingRegistry) with this window; negative: no batching.
  // Default 5 ms.
  int64_t batch_window_ms = 5;
  // Channel "altinn": the resource, language and notification texts
  // (AltinnOptions); organisation registry "brreg": altinn_url, when set,
  // tells which organisations have an inbox.
  std::string altinn_url;
  std::string altinn_resource_id;
  std::string altinn_language;
  std::string altinn_notification_email_subject;
  std::string altinn_notification_email_body;
  std::string altinn_notification_sms_body;
  // Channels "digipost" and "altinn": where their event feeds are read
  // from, shared by every worker. Null: kept in memory only, so a restart
  // reads the feed again (Altinn from its start; Digipost its look-back).
  // Not owned; must outlive what the factory makes.
  FeedPositions* feed_positions = nullptr;
};

using ChannelFactory = std::function<absl::StatusOr<std::unique_ptr<Channel>>(
    const AdapterSettings&)>;
using RegistryFactory = std::function<absl::StatusOr<std::unique_ptr<Registry>>(
    const AdapterSettings&)>;
using OrganisationRegistryFactory =
    std::function<absl::StatusOr<std::unique_ptr<OrganisationRegistry>>(
        const AdapterSettings&)>;

// Register everything first, from one thread; after that the const methods
// may be called from any number of threads.
class AdapterRegistry final {
 public:
  // ALREADY_EXISTS when `name` is taken; INVALID_ARGUMENT for an empty name
  // or factory.
  absl::Status RegisterChannel(std::string name, ChannelFactory factory);
  absl::Status RegisterRegistry(std::string name, RegistryFactory factory);
  absl::Status RegisterOrganisationRegistry(
      std::string name, OrganisationRegistryFactory factory);

  // NOT_FOUND, listing the known names, for a name never registered;
  // INVALID_ARGUMENT without settings.http; otherwise what the factory
  // returns.
  absl::StatusOr<std::unique_ptr<Channel>> MakeChannel(
      std::string_view name, const AdapterSettings& settings) const;
  absl::StatusOr<std::unique_ptr<Registry>> MakeRegistry(
      std::string_view name, const AdapterSettings& settings) const;
  absl::StatusOr<std::unique_ptr<OrganisationRegistry>>
  MakeOrganisationRegistry(std::string_view name,
                           const AdapterSettings& settings) const;

  // Registered names, sorted.
  std::vector<std::string> ChannelNames() const;
  std::vector<std::string> RegistryNames() const;
  std::vector<std::string> OrganisationRegistryNames() const;

 private:
  std::map<std::string, ChannelFactory, std::less<>> channels_;
  std::map<std::string, RegistryFactory, std::less<>> registries_;
  std::map<std::string, OrganisationRegistryFactory, std::less<>>
      organisation_registries_;
};

// Registers the channels "digipost", "print", "dpi" and "altinn", the
// registry "krr" (batched and cached as the settings say) and the
// organisation registry "brreg" (cached).
void RegisterBuiltinAdapters(AdapterRegistry* registry);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_ADAPTER_REGISTRY_H_
