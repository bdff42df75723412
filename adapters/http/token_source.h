// Bearer tokens for the providers that want one (contact registry, Altinn,
// DPI): a Maskinporten-shaped JWT grant in production, a fixed token in
// tests. Adapters ask for a token per request and report a 401 so that a
// revoked or expired token is replaced once.
#ifndef UTPOST_ADAPTERS_HTTP_TOKEN_SOURCE_H_
#define UTPOST_ADAPTERS_HTTP_TOKEN_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"

namespace utpost::adapters {

// Thread-safe.
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // An access token for `scope` (space-separated scopes), from the cache
  // while it has more than a short margin of its lifetime left. Errors:
  // transient codes (see channel.h IsTransient) when the issuer could not be
  // reached; others when it refused the grant (the gateway's set-up).
  virtual absl::StatusOr<std::string> Token(const std::string& scope) = 0;
  // The provider refused `token` (HTTP 401): drop it so that the next
  // Token(scope) fetches a new one. A token already replaced is ignored.
  virtual void Invalidate(const std::string& scope,
                          const std::string& token) = 0;
};

// Always the same token; for tests and for providers given a long-lived
// token by configuration.
class StaticTokenSource final : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  absl::StatusOr<std::string> Token(const std::string&) override {
    return token_;
  }
  void Invalidate(const std::string&, const std::string&) override {}

 private:
  const std::string token_;
};

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_HTTP_TOKEN_SOURCE_H_
