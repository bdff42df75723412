// Organisations from an Enhetsregisteret-shaped business registry, with
// whether each can receive Altinn correspondence (docs/protocols.md,
// "Has an inbox").
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
  // Base URL of Altinn. Empty: no organisation has an inbox (there is no
  // Altinn channel).
  std::string altinn_url;
  // Not used: the register call takes a platform access token, not an
  // Altinn token. Not owned.
  TokenSource* altinn_tokens = nullptr;
  // A file holding an Altinn platform access token (the JWT Altinn issues
  // to a platform application), sent in the PlatformAccessToken header of
  // Altinn's register call. Read at every look-up, so that a renewed token
  // is used. Empty: Altinn's register is not asked.
  std::string platform_access_token_file;
};

// Returns an OrganisationRegistry that reads GET {base_url}/
// enhetsregisteret/api/enheter/{orgnr}: 200 with navn and postadresse
// (forretningsadresse when there is no postadresse) is kActive, unless it
// carries a slettedato; 410 or a slettedato is kDeleted; 404 kNotRegistered.
// has_inbox: every active unit of Enhetsregisteret is a party in Altinn's
// register and can receive correspondence (organisations cannot reserve
// themselves; the correspondence service answers a recipient it cannot
// reach, 1029/1030, and the channel turns that into a refusal), so an active
// unit has an inbox when altinn_url is set. With platform_access_token_file,
// Altinn's register is asked as well: GET {altinn_url}/register/api/v1/
// organizations/{orgnr} with the PlatformAccessToken header; 404 (not a
// party in Altinn) means no inbox. Deleted and unknown units have none.
// Errors: INVALID_ARGUMENT for a number that is not 9 digits; UNAVAILABLE
// for 5xx, 429, transport errors and unreadable replies; PERMISSION_DENIED
// for 401/403; FAILED_PRECONDITION for an unreadable token file and
// otherwise. `http` is not owned and must outlive the
// registry. Not cached: wrap it in NewCachingOrganisationRegistry.
// Thread-safe.
// `tokens_owner`, if set, is kept alive as long as the registry (for an
// altinn_tokens made just for it).
std::unique_ptr<OrganisationRegistry> NewBusinessRegistry(
    BusinessRegistryOptions options, HttpClient* http,
    std::shared_ptr<TokenSource> tokens_owner = nullptr);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_REGISTRY_BUSINESS_REGISTRY_H_
