// The simulated Maskinporten-shaped token issuer (PROTOCOLS.md, "Token
// grant"), and the bearer-token check the other simulated services use.
//
//   POST /token             form grant_type=urn:ietf:params:oauth:grant-type:
//                           jwt-bearer&assertion=<JWT>. Verifies the JWT:
//                           alg RS256/RS384/RS512; header x5c whose leaf
//                           verifies the signature and whose chain leads to
//                           the configured CA; claims exactly aud, iss, iat,
//                           exp, jti, scope, nothing else;
//                           aud = the issuer; iat within 10 s of now; exp
//                           after now and at most 120 s after iat; jti never
//                           seen; every scope allowed. 200 {"access_token",
//                           "token_type": "Bearer", "expires_in", "scope"};
//                           400 {"error": "invalid_grant",
//                           "error_description"} otherwise.
// Test control:
//   POST   /sim/v1/tokens   {"lifetime_seconds": N}: lifetime of tokens
//                           issued from now on. 204.
//   DELETE /sim/v1/tokens   revokes every token issued so far. 204.
#ifndef UTPOST_SIM_MASKINPORTEN_H_
#define UTPOST_SIM_MASKINPORTEN_H_

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"

namespace utpost::sim {

// The scopes the simulated issuer grants unless told others.
inline const std::vector<std::string>& DefaultTokenScopes() {
  static const auto* scopes =
      new std::vector<std::string>{"krr:global/kontaktinformasjon.read",
                                   "krr:global/digitalpost.read",
                                   "altinn:correspondence.write",
                                   "altinn:serviceowner",
                                   "altinn:events.subscribe",
                                   "digdir:dpi:message.out",
                                   "digdir:dpi:message.in",
                                   "digitalpostinnbygger:send"};
  return *scopes;
}

struct TokenIssuerOptions {
  // The issuer identifier a grant's aud must equal.
  std::string issuer = "https://maskinporten.sim/";
  // CA (PEM) that a grant's x5c must chain to. Required.
  std::string ca_file;
  // Scopes that may be granted. Empty: DefaultTokenScopes().
  std::vector<std::string> scopes;
  // Lifetime of issued tokens. Default 120 s (as Maskinporten).
  int64_t token_lifetime_ms = 120 * 1000;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
};

// Answers `res` as an injected fault for `endpoint` and returns true, or
// returns false to go on.
using FaultHook =
    std::function<bool(const std::string& endpoint, httplib::Response& res)>;

// Thread-safe.
class TokenIssuer {
 public:
  enum class Kind { kMaskinporten, kAltinn };

  virtual ~TokenIssuer() = default;
  // Adds the routes above; faults for "token" through `fault`.
  virtual void Register(httplib::Server* server, FaultHook fault) = 0;
  // True when the request carries "Authorization: Bearer <token>" with a
  // token of `kind`, unexpired, granted every scope in `scope` (space
  // separated). Otherwise answers 401 (no, unknown or expired token) or
  // 403 (scope missing) with a JSON error and returns false.
  virtual bool Authorize(const httplib::Request& req, const std::string& scope,
                         httplib::Response* res,
                         Kind kind = Kind::kMaskinporten) = 0;
  // A token of kind kAltinn for a valid Maskinporten token, with its scopes
  // and expiry; nullopt for anything else.
  virtual std::optional<std::string> Exchange(const std::string& token) = 0;
  // {"issued": N, "refused": M}.
  virtual nlohmann::json Counts() = 0;
  // Back to the configured lifetime; counts to 0. Tokens stay valid.
  virtual void Reset() = 0;
};

// INVALID_ARGUMENT when the CA file cannot be read.
absl::StatusOr<std::unique_ptr<TokenIssuer>> NewTokenIssuer(
    TokenIssuerOptions options);

}  // namespace utpost::sim

#endif  // UTPOST_SIM_MASKINPORTEN_H_
