// Tokens from a Maskinporten-shaped issuer (PROTOCOLS.md, "Token grant"):
// a JWT grant signed with the business certificate's key, exchanged for an
// access token at the issuer's token endpoint.
#ifndef UTPOST_ADAPTERS_HTTP_MASKINPORTEN_TOKEN_SOURCE_H_
#define UTPOST_ADAPTERS_HTTP_MASKINPORTEN_TOKEN_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/http/http_client.h"
#include "adapters/http/token_source.h"
#include "common/clock.h"

namespace utpost::adapters {

struct MaskinportenOptions {
  // The token endpoint, e.g. "https://test.maskinporten.no/token". Required.
  std::string token_url;
  // The issuer's identifier: the grant's "aud". Required.
  std::string audience;
  // The client id: the grant's "iss". Required.
  std::string client_id;
  // RSA private key (PEM) of the business certificate. Required.
  std::string key_file;
  // The business certificate, then its chain up to (not including) the root
  // (PEM); each goes into the grant's "x5c", leaf first. Required.
  std::string cert_chain_file;
  // The grant's exp - iat, in seconds: at most 120 (the issuer's limit).
  // Default 120.
  int grant_lifetime_seconds = 120;
  // A cached token is replaced when less than this is left of its life
  // (at most half its lifetime). Default 60 s.
  int64_t refresh_margin_ms = 60 * 1000;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
};

// Returns a TokenSource that fetches a token per scope from the issuer and
// caches it until shortly before it expires. The grant: header {"alg":
// "RS256", "x5c": [...]}, claims exactly aud, iss, iat, exp, jti (128 random
// bits, never reused) and scope. Token() errors: UNAVAILABLE for transport
// failures, 5xx, 429 or an unreadable reply; PERMISSION_DENIED when the
// issuer refuses the grant (400/401/403, with its error_description);
// FAILED_PRECONDITION for other statuses. `http` is not owned and must
// outlive the source. INVALID_ARGUMENT naming the option for missing
// options or unusable key or certificate files. Thread-safe; concurrent
// misses for one scope make one request.
absl::StatusOr<std::unique_ptr<TokenSource>> NewMaskinportenTokenSource(
    MaskinportenOptions options, HttpClient* http);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_HTTP_MASKINPORTEN_TOKEN_SOURCE_H_
