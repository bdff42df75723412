#include "adapters/http/maskinporten_token_source.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

using nlohmann::json;

constexpr char kGrantType[] = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr size_t kMaxErrorExcerpt = 300;

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     absl::string_view option) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": cannot read \"", path, "\""));
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<PkeyPtr> LoadRsaKey(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path, "key_file"));
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (key == nullptr || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return absl::InvalidArgumentError(
        absl::StrCat("key_file: \"", path, "\" is not an RSA private key"));
  }
  return key;
}

// The certificates of a PEM file as base64 DER (not URL-safe, padded: the
// x5c form), in file order.
absl::StatusOr<std::vector<std::string>> LoadX5c(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path, "cert_chain_file"));
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::vector<std::string> chain;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    unsigned char* der = nullptr;
    int length = i2d_X509(cert, &der);
    if (length > 0) {
      chain.push_back(absl::Base64Escape(absl::string_view(
          reinterpret_cast<const char*>(der), static_cast<size_t>(length))));
    }
    OPENSSL_free(der);
    X509_free(cert);
  }
  BIO_free(bio);
  if (chain.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cert_chain_file: no certificate in \"", path, "\""));
  }
  return chain;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()),
             static_cast<int>(raw.size()));
  return absl::BytesToHexString(raw);
}

std::string FormEncode(absl::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(&c), 1)));
    }
  }
  return out;
}

absl::StatusOr<std::string> SignRs256(EVP_PKEY* key, absl::string_view input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = 0;
  std::string signature;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestSign(ctx, nullptr, &length,
                           reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1;
  if (ok) {
    signature.resize(length);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()),
                        &length,
                        reinterpret_cast<const unsigned char*>(input.data()),
                        input.size()) == 1;
    signature.resize(length);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return absl::InternalError("cannot sign the token grant");
  return signature;
}

struct CachedToken {
  std::string token;
  int64_t refresh_at_ms = 0;  // Replaced from then on.
};

class MaskinportenTokenSource final : public TokenSource {
 public:
  MaskinportenTokenSource(MaskinportenOptions options, HttpClient* http,
                          PkeyPtr key, std::vector<std::string> x5c)
      : options_(std::move(options)),
        http_(http),
        clock_(options_.clock != nullptr ? options_.clock : RealClock()),
        key_(std::move(key)),
        x5c_(std::move(x5c)) {}

  absl::StatusOr<std::string> Token(const std::string& scope) override {
    if (std::optional<std::string> cached = Cached(scope)) return *cached;
    // One fetch at a time: a burst of misses for a scope makes one request,
    // the others find its token in the cache.
    absl::MutexLock fetch_lock(&fetch_mu_);
    if (std::optional<std::string> cached = Cached(scope)) return *cached;
    ASSIGN_OR_RETURN(CachedToken fresh, Fetch(scope));
    absl::MutexLock lock(&mu_);
    cache_[scope] = fresh;
    return fresh.token;
  }

  void Invalidate(const std::string& scope, const std::string& token) override {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(scope);
    if (it != cache_.end() && it->second.token == token) cache_.erase(it);
  }

 private:
  std::optional<std::string> Cached(const std::string& scope) {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(scope);
    if (it == cache_.end() || clock_->NowMillis() >= it->second.refresh_at_ms) {
      return std::nullopt;
    }
    return it->second.token;
  }

  absl::StatusOr<std::string> Grant(const std::string& scope) {
    const int64_t now_s = clock_->NowMillis() / 1000;
    json header = {{"alg", "RS256"}, {"x5c", x5c_}};
    json claims = {{"aud", options_.audience},
                   {"iss", options_.client_id},
                   {"iat", now_s},
                   {"exp", now_s + options_.grant_lifetime_seconds},
                   {"jti", RandomHex(16)},
                   {"scope", scope}};
    std::string input =
        absl::StrCat(absl::WebSafeBase64Escape(header.dump()), ".",
                     absl::WebSafeBase64Escape(claims.dump(
                         -1, ' ', false, json::error_handler_t::replace)));
    ASSIGN_OR_RETURN(std::string signature, SignRs256(key_.get(), input));
    return absl::StrCat(input, ".", absl::WebSafeBase64Escape(signature));
  }

  absl::StatusOr<CachedToken> Fetch(const std::string& scope) {
    ASSIGN_OR_RETURN(std::string assertion, Grant(scope));
    HttpRequest request;
    request.method = "POST";
    request.url = options_.token_url;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Accept", "application/json"}};
    request.body = absl::StrCat("grant_type=", FormEncode(kGrantType),
                                "&assertion=", FormEncode(assertion));
    ASSIGN_OR_RETURN(HttpResponse response, http_->Do(request));
    if (response.status != 200) {
      std::string message =
          absl::StrCat("token issuer answered HTTP ", response.status, ": ",
                       response.body.substr(0, kMaxErrorExcerpt));
      if (response.status >= 500 || response.status == 429) {
        return absl::UnavailableError(message);
      }
      if (response.status == 400 || response.status == 401 ||
          response.status == 403) {
        return absl::PermissionDeniedError(message);
      }
      return absl::FailedPreconditionError(message);
    }
    json reply =
        json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    CachedToken token;
    int64_t expires_in = 0;
    try {
      if (!reply.is_object()) throw std::runtime_error("not a JSON object");
      token.token = reply.at("access_token").get<std::string>();
      expires_in = reply.at("expires_in").get<int64_t>();
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("token issuer reply is malformed: ", e.what()));
    }
    if (token.token.empty() || expires_in <= 0) {
      return absl::UnavailableError(
          "token issuer reply has no token or no lifetime");
    }
    const int64_t lifetime_ms = expires_in * 1000;
    const int64_t margin =
        std::min(options_.refresh_margin_ms, lifetime_ms / 2);
    token.refresh_at_ms = clock_->NowMillis() + lifetime_ms - margin;
    return token;
  }

  const MaskinportenOptions options_;
  HttpClient* const http_;
  const Clock* const clock_;
  const PkeyPtr key_;
  const std::vector<std::string> x5c_;
  absl::Mutex fetch_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, CachedToken> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<TokenSource>> NewMaskinportenTokenSource(
    MaskinportenOptions options, HttpClient* http) {
  for (const auto& [value, name] :
       {std::pair{&options.token_url, "token_url"},
        {&options.audience, "audience"},
        {&options.client_id, "client_id"},
        {&options.key_file, "key_file"},
        {&options.cert_chain_file, "cert_chain_file"}}) {
    if (value->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": must be set"));
    }
  }
  if (options.grant_lifetime_seconds <= 0 ||
      options.grant_lifetime_seconds > 120) {
    return absl::InvalidArgumentError(
        "grant_lifetime_seconds: 1 to 120 seconds");
  }
  if (http == nullptr) return absl::InvalidArgumentError("http: must be set");
  ASSIGN_OR_RETURN(PkeyPtr key, LoadRsaKey(options.key_file));
  ASSIGN_OR_RETURN(std::vector<std::string> x5c,
                   LoadX5c(options.cert_chain_file));
  return std::make_unique<MaskinportenTokenSource>(
      std::move(options), http, std::move(key), std::move(x5c));
}

}  // namespace utpost::adapters
