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
#include "adapters/print/print_channel.h"
#include "adapters/http/token_source.h"
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
  // the provider's receipt certificate and/or CA (PEM), token scopes
  // (empty: the adapter's defaults), and where tokens come from (not
  // owned; null: a fixed `bearer_token`).
  std::string certificate_file;
  std::string provider_certificate_file;
  std::string provider_ca_file;
  std::string scope;
  std::string receipt_scope;
  TokenSource* tokens = nullptr;
  // Not owned; must outlive what the factory makes. Required.
  HttpClient* http = nullptr;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
  // Print: batching and the cover page; its base_url is ignored (base_url
  // above counts).
  PrintOptions print;
};

using ChannelFactory = std::function<absl::StatusOr<std::unique_ptr<Channel>>(
    const AdapterSettings&)>;
using RegistryFactory = std::function<absl::StatusOr<std::unique_ptr<Registry>>(
    const AdapterSettings&)>;

// Register everything first, from one thread; after that the const methods
// may be called from any number of threads.
class AdapterRegistry final {
 public:
  // ALREADY_EXISTS when `name` is taken; INVALID_ARGUMENT for an empty name
  // or factory.
  absl::Status RegisterChannel(std::string name, ChannelFactory factory);
  absl::Status RegisterRegistry(std::string name, RegistryFactory factory);

  // NOT_FOUND, listing the known names, for a name never registered;
  // INVALID_ARGUMENT without settings.http; otherwise what the factory
  // returns.
  absl::StatusOr<std::unique_ptr<Channel>> MakeChannel(
      std::string_view name, const AdapterSettings& settings) const;
  absl::StatusOr<std::unique_ptr<Registry>> MakeRegistry(
      std::string_view name, const AdapterSettings& settings) const;

  // Registered names, sorted.
  std::vector<std::string> ChannelNames() const;
  std::vector<std::string> RegistryNames() const;

 private:
  std::map<std::string, ChannelFactory, std::less<>> channels_;
  std::map<std::string, RegistryFactory, std::less<>> registries_;
};

// Registers the channels "digipost", "print" and "dpi" and the registry
// "krr".
void RegisterBuiltinAdapters(AdapterRegistry* registry);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_ADAPTER_REGISTRY_H_
