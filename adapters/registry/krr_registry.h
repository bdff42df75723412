// The contact registry (KRR) look-up over its REST shape (PROTOCOLS.md,
// "Contact registry"): POST /rest/v1/personer with up to 1000 numbers.
#ifndef UTPOST_ADAPTERS_REGISTRY_KRR_REGISTRY_H_
#define UTPOST_ADAPTERS_REGISTRY_KRR_REGISTRY_H_

#include <memory>
#include <string>

#include "adapters/channel.h"
#include "adapters/http/http_client.h"
#include "adapters/http/token_source.h"

namespace utpost::adapters {

// The scopes a contact registry token needs.
inline constexpr char kKrrScope[] =
    "krr:global/kontaktinformasjon.read krr:global/digitalpost.read";

struct KrrRegistryOptions {
  // Scheme, host and port (and an optional path prefix) of the registry,
  // e.g. "https://127.0.0.1:8443". Required.
  std::string base_url;
  // Sent as "Authorization: Bearer <token>" when not empty and `tokens` is
  // null. Default empty: no Authorization header.
  std::string bearer_token;
  // When set, each request carries a token for `scope` from it; after a 401
  // the token is invalidated and the request repeated once with a new one.
  // Not owned; must outlive the registry. Default null.
  TokenSource* tokens = nullptr;
  std::string scope = std::string(kKrrScope);
  // Numbers per request; larger look-ups are split. Default (and the
  // registry's maximum) 1000.
  int max_batch = 1000;
};

// Returns a Registry that asks the KRR-shaped service at
// `options.base_url`. `http` is not owned and must outlive the registry.
// Numbers are returned in the order asked, one entry per number asked
// (duplicates included); a number the reply leaves out is kNotRegistered.
// "sertifikat" (base64 DER, or PEM) becomes mailbox_certificate (DER).
// Errors: UNAVAILABLE for 5xx, 429 or a reply that cannot be parsed;
// DEADLINE_EXCEEDED for 408; PERMISSION_DENIED for 401/403;
// INVALID_ARGUMENT for 400; FAILED_PRECONDITION for other statuses (404
// included); transport errors as HttpClient gives them. Messages quote the
// registry's reply with person numbers masked. Thread-safe.
std::unique_ptr<Registry> NewKrrRegistry(KrrRegistryOptions options,
                                         HttpClient* http);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_REGISTRY_KRR_REGISTRY_H_
