#include "adapters/altinn/altinn_token_source.h"

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"

namespace utpost::adapters {
namespace {

struct Exchanged {
  std::string source;  // The Maskinporten token it came from.
  std::string token;
};

class AltinnTokenSource final : public TokenSource {
 public:
  AltinnTokenSource(std::string base_url, TokenSource* maskinporten,
                    HttpClient* http)
      : base_url_(std::move(base_url)),
        maskinporten_(maskinporten),
        http_(http) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  }

  absl::StatusOr<std::string> Token(const std::string& scope) override {
    ASSIGN_OR_RETURN(std::string source, maskinporten_->Token(scope));
    {
      absl::MutexLock lock(&mu_);
      auto it = cache_.find(scope);
      if (it != cache_.end() && it->second.source == source) {
        return it->second.token;
      }
    }
    HttpRequest request;
    request.method = "GET";
    request.url =
        absl::StrCat(base_url_, "/authentication/api/v1/exchange/maskinporten");
    request.headers = {{"Authorization", absl::StrCat("Bearer ", source)},
                       {"Accept", "text/plain"}};
    ASSIGN_OR_RETURN(HttpResponse response, http_->Do(request));
    if (response.status == 401) maskinporten_->Invalidate(scope, source);
    if (response.status != 200) {
      std::string message =
          absl::StrCat("Altinn token exchange answered HTTP ", response.status,
                       ": ", response.body.substr(0, 300));
      if (response.status >= 500 || response.status == 429) {
        return absl::UnavailableError(message);
      }
      if (response.status == 401 || response.status == 403) {
        return absl::PermissionDeniedError(message);
      }
      return absl::FailedPreconditionError(message);
    }
    std::string token(absl::StripAsciiWhitespace(response.body));
    // Some deployments answer a JSON string.
    if (token.size() >= 2 && token.front() == '"' && token.back() == '"') {
      token = token.substr(1, token.size() - 2);
    }
    if (token.empty()) {
      return absl::UnavailableError("Altinn token exchange answered no token");
    }
    absl::MutexLock lock(&mu_);
    cache_[scope] = Exchanged{source, token};
    return token;
  }

  void Invalidate(const std::string& scope, const std::string& token) override {
    std::string source;
    {
      absl::MutexLock lock(&mu_);
      auto it = cache_.find(scope);
      if (it == cache_.end() || it->second.token != token) return;
      source = it->second.source;
      cache_.erase(it);
    }
    maskinporten_->Invalidate(scope, source);
  }

 private:
  std::string base_url_;
  TokenSource* const maskinporten_;
  HttpClient* const http_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Exchanged> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<TokenSource> NewAltinnTokenSource(std::string base_url,
                                                  TokenSource* maskinporten,
                                                  HttpClient* http) {
  return std::make_unique<AltinnTokenSource>(std::move(base_url), maskinporten,
                                             http);
}

}  // namespace utpost::adapters
