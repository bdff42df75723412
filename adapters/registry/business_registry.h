// Organisations from an Enhetsregisteret-shaped business registry, with
// whether each has an Altinn inbox (PROTOCOLS.md).
#ifndef UTPOST_ADAPTERS_REGISTRY_BUSINESS_REGISTRY_H_
#define UTPOST_ADAPTERS_REGISTRY_BUSINESS_REGISTRY_H_

#include <memory>
#include <string>

#include "adapters/channel.h"
#include "adapters/http/http_client.h"
#include "adapters/http/token_source.h"

namespace utpost::adapters {

struct BusinessRegistryOptions {
  // Base URL of the business registry, e.g. "https://data.brreg.no".
  // Required.
  std::string base_url;
  // Base URL of Altinn. Empty: no organisation has an inbox.
  std::string altinn_url;
  // Altinn tokens (NewAltinnTokenSource). Not owned. Required with
  // altinn_url.
  TokenSource* altinn_tokens = nullptr;
};

// Returns an OrganisationRegistry that reads GET {base_url}/
// enhetsregisteret/api/enheter/{orgnr}: 200 with navn and postadresse
// (forretningsadresse when there is no postadresse) is kActive, unless it
// carries a slettedato; 410 or a slettedato is kDeleted; 404 kNotRegistered.
// has_inbox (for an active one) comes from Altinn's register: GET
// {altinn_url}/register/api/v1/organizations/{orgnr} with an Altinn token
// (scope altinn:correspondence.write): 200 means the organisation can
// receive correspondence, 404 that it cannot. Errors: INVALID_ARGUMENT for
// a number that is not 9 digits; UNAVAILABLE for 5xx, 429, transport
// errors and unreadable replies; PERMISSION_DENIED for 401/403;
// FAILED_PRECONDITION otherwise. `http` is not owned and must outlive the
// registry. Not cached: wrap it in NewCachingOrganisationRegistry.
// Thread-safe.
// `tokens_owner`, if set, is kept alive as long as the registry (for an
// altinn_tokens made just for it).
std::unique_ptr<OrganisationRegistry> NewBusinessRegistry(
    BusinessRegistryOptions options, HttpClient* http,
    std::shared_ptr<TokenSource> tokens_owner = nullptr);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_REGISTRY_BUSINESS_REGISTRY_H_
