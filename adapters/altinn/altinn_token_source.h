// Altinn tokens: a Maskinporten token exchanged at Altinn's
// authentication/api/v1/exchange/maskinporten (PROTOCOLS.md).
#ifndef UTPOST_ADAPTERS_ALTINN_ALTINN_TOKEN_SOURCE_H_
#define UTPOST_ADAPTERS_ALTINN_ALTINN_TOKEN_SOURCE_H_

#include <memory>
#include <string>

#include "adapters/http/http_client.h"
#include "adapters/http/token_source.h"

namespace utpost::adapters {

// Returns a TokenSource whose tokens are Altinn tokens: for each scope it
// takes a Maskinporten token from `maskinporten` and exchanges it with GET
// {base_url}/authentication/api/v1/exchange/maskinporten (reply: the token
// as text). The Altinn token is kept as long as `maskinporten` returns the
// same token (an exchanged token lives as long as its source). Invalidate()
// drops both. Errors: as `maskinporten`'s; for the exchange UNAVAILABLE for
// 5xx/429 and transport errors, PERMISSION_DENIED for 401/403,
// FAILED_PRECONDITION otherwise. Neither pointer is owned; both must
// outlive the source. Thread-safe.
std::unique_ptr<TokenSource> NewAltinnTokenSource(std::string base_url,
                                                  TokenSource* maskinporten,
                                                  HttpClient* http);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_ALTINN_ALTINN_TOKEN_SOURCE_H_
