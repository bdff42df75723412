#include "sim/maskinporten.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace utpost::sim {
namespace {

using nlohmann::json;

constexpr char kJson[] = "application/json";
constexpr char kGrantType[] = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr int64_t kMaxIatSkewS = 10;
constexpr int64_t kMaxGrantLifetimeS = 120;

std::string RandomToken() {
  unsigned char raw[24];
  RAND_bytes(raw, sizeof(raw));
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(raw), sizeof(raw)));
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::set<std::string> SplitScopes(absl::string_view scope) {
  std::set<std::string> out;
  for (absl::string_view s : absl::StrSplit(scope, ' ', absl::SkipEmpty())) {
    out.emplace(s);
  }
  return out;
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr CertFromBase64(const std::string& b64) {
  std::string der;
  if (!absl::Base64Unescape(b64, &der)) return nullptr;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

struct IssuedToken {
  TokenIssuer::Kind kind = TokenIssuer::Kind::kMaskinporten;
  std::set<std::string> scopes;
  int64_t expires_ms = 0;
  std::string client_id;
};

class TokenIssuerImpl final : public TokenIssuer {
 public:
  TokenIssuerImpl(TokenIssuerOptions options, X509_STORE* store)
      : options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : RealClock()),
        store_(store),
        lifetime_ms_(options_.token_lifetime_ms) {
    if (options_.scopes.empty()) options_.scopes = DefaultTokenScopes();
    allowed_.insert(options_.scopes.begin(), options_.scopes.end());
  }
  ~TokenIssuerImpl() override { X509_STORE_free(store_); }

  void Register(httplib::Server* server, FaultHook fault) override {
    server->Post("/token", [this, fault](const httplib::Request& req,
                                         httplib::Response& res) {
      if (fault("token", res)) return;
      HandleToken(req, res);
    });
    server->Post("/sim/v1/tokens", [this](const httplib::Request& req,
                                          httplib::Response& res) {
      json body = json::parse(req.body, nullptr, false);
      auto it =
          body.is_object() ? body.find("lifetime_seconds") : json::iterator();
      if (!body.is_object() || it == body.end() || !it->is_number_integer() ||
          it->get<int64_t>() <= 0) {
        res.status = 400;
        res.set_content(
            Dump({{"error", "expected {\"lifetime_seconds\": N > 0}"}}), kJson);
        return;
      }
      absl::MutexLock lock(&mu_);
      lifetime_ms_ = it->get<int64_t>() * 1000;
      res.status = 204;
    });
    server->Delete("/sim/v1/tokens",
                   [this](const httplib::Request&, httplib::Response& res) {
                     absl::MutexLock lock(&mu_);
                     tokens_.clear();
                     res.status = 204;
                   });
  }

  bool Authorize(const httplib::Request& req, const std::string& scope,
                 httplib::Response* res, Kind kind) override {
    std::string header = req.get_header_value("Authorization");
    auto refuse = [&](int status, absl::string_view code,
                      absl::string_view message) {
      res->status = status;
      if (status == 401) {
        res->set_header("WWW-Authenticate",
                        absl::StrCat("Bearer error=\"", code, "\""));
      }
      res->set_content(
          Dump({{"error", {{"code", code}, {"message", message}}}}), kJson);
      return false;
    };
    if (!absl::StartsWith(header, "Bearer ") || header.size() <= 7) {
      return refuse(401, "invalid_token", "expected a bearer token");
    }
    std::string token = header.substr(7);
    absl::MutexLock lock(&mu_);
    auto it = tokens_.find(token);
    if (it == tokens_.end() || it->second.kind != kind) {
      return refuse(401, "invalid_token", "unknown token");
    }
    if (clock_->NowMillis() >= it->second.expires_ms) {
      return refuse(401, "invalid_token", "token expired");
    }
    for (const std::string& s : SplitScopes(scope)) {
      if (it->second.scopes.count(s) == 0) {
        return refuse(403, "insufficient_scope",
                      absl::StrCat("token lacks scope ", s));
      }
    }
    return true;
  }

  std::optional<std::string> Exchange(const std::string& token) override {
    absl::MutexLock lock(&mu_);
    auto it = tokens_.find(token);
    if (it == tokens_.end() || it->second.kind != Kind::kMaskinporten ||
        clock_->NowMillis() >= it->second.expires_ms) {
      return std::nullopt;
    }
    IssuedToken altinn = it->second;
    altinn.kind = Kind::kAltinn;
    std::string id = RandomToken();
    tokens_[id] = std::move(altinn);
    return id;
  }

  json Counts() override {
    absl::MutexLock lock(&mu_);
    return {{"issued", issued_}, {"refused", refused_}};
  }

  void Reset() override {
    absl::MutexLock lock(&mu_);
    lifetime_ms_ = options_.token_lifetime_ms;
    issued_ = 0;
    refused_ = 0;
  }

 private:
  void HandleToken(const httplib::Request& req, httplib::Response& res) {
    std::string grant_type = req.get_param_value("grant_type");
    std::string assertion = req.get_param_value("assertion");
    absl::StatusOr<IssuedToken> grant =
        grant_type != kGrantType
            ? absl::InvalidArgumentError(
                  "grant_type: expected urn:ietf:params:oauth:grant-type:"
                  "jwt-bearer")
            : Verify(assertion);
    if (!grant.ok()) {
      spdlog::warn("token: refused grant: {}",
                   std::string(grant.status().message()));
      {
        absl::MutexLock lock(&mu_);
        ++refused_;
      }
      res.status = 400;
      res.set_content(Dump({{"error", "invalid_grant"},
                            {"error_description", grant.status().message()}}),
                      kJson);
      return;
    }
    std::string token = RandomToken();
    std::string scope;
    for (const std::string& s : grant->scopes) {
      absl::StrAppend(&scope, scope.empty() ? "" : " ", s);
    }
    int64_t lifetime_ms;
    {
      absl::MutexLock lock(&mu_);
      lifetime_ms = lifetime_ms_;
      grant->expires_ms = clock_->NowMillis() + lifetime_ms;
      tokens_[token] = *grant;
      ++issued_;
    }
    spdlog::info("token: issued to {} for \"{}\"", grant->client_id, scope);
    res.set_content(Dump({{"access_token", token},
                          {"token_type", "Bearer"},
                          {"expires_in", (lifetime_ms + 999) / 1000},
                          {"scope", scope}}),
                    kJson);
  }

  // The grant's scopes and client when the JWT passes every check.
  absl::StatusOr<IssuedToken> Verify(const std::string& jwt) {
    std::vector<std::string> parts = absl::StrSplit(jwt, '.');
    if (parts.size() != 3) {
      return absl::InvalidArgumentError("assertion: not a signed JWT");
    }
    std::string header_text, claims_text, signature;
    if (!absl::WebSafeBase64Unescape(parts[0], &header_text) ||
        !absl::WebSafeBase64Unescape(parts[1], &claims_text) ||
        !absl::WebSafeBase64Unescape(parts[2], &signature)) {
      return absl::InvalidArgumentError("assertion: not base64url");
    }
    json header = json::parse(header_text, nullptr, false);
    json claims = json::parse(claims_text, nullptr, false);
    if (!header.is_object() || !claims.is_object()) {
      return absl::InvalidArgumentError("assertion: header or claims not JSON");
    }
    // Header: algorithm and certificate chain.
    const EVP_MD* md = nullptr;
    std::string alg = header.value("alg", "");
    if (alg == "RS256") md = EVP_sha256();
    if (alg == "RS384") md = EVP_sha384();
    if (alg == "RS512") md = EVP_sha512();
    if (md == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("alg: RS256, RS384 or RS512, got \"", alg, "\""));
    }
    auto x5c = header.find("x5c");
    if (x5c == header.end() || !x5c->is_array() || x5c->empty()) {
      return absl::InvalidArgumentError("x5c: missing");
    }
    std::vector<X509Ptr> chain;
    for (const json& c : *x5c) {
      X509Ptr cert =
          c.is_string() ? CertFromBase64(c.get<std::string>()) : nullptr;
      if (cert == nullptr) {
        return absl::InvalidArgumentError("x5c: not a certificate");
      }
      chain.push_back(std::move(cert));
    }
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    for (size_t i = 1; i < chain.size(); ++i) {
      sk_X509_push(untrusted, chain[i].get());
    }
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store_, chain[0].get(), untrusted);
    const bool chain_ok = X509_verify_cert(ctx) == 1;
    std::string chain_error =
        chain_ok ? ""
                 : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    if (!chain_ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("x5c: certificate not trusted: ", chain_error));
    }
    // Signature over header.claims with the leaf's key.
    EVP_PKEY* key = X509_get0_pubkey(chain[0].get());
    std::string input = absl::StrCat(parts[0], ".", parts[1]);
    EVP_MD_CTX* md_ctx = EVP_MD_CTX_new();
    const bool signature_ok =
        key != nullptr && EVP_PKEY_base_id(key) == EVP_PKEY_RSA &&
        EVP_DigestVerifyInit(md_ctx, nullptr, md, nullptr, key) == 1 &&
        EVP_DigestVerify(
            md_ctx, reinterpret_cast<const unsigned char*>(signature.data()),
            signature.size(),
            reinterpret_cast<const unsigned char*>(input.data()),
            input.size()) == 1;
    EVP_MD_CTX_free(md_ctx);
    if (!signature_ok) {
      return absl::InvalidArgumentError(
          "signature: does not verify with the x5c certificate");
    }
    // Claims.
    static const std::set<std::string> kKnown = {"aud", "iss", "iat",
                                                 "exp", "jti", "scope"};
    for (const auto& [name, value] : claims.items()) {
      if (kKnown.count(name) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("claims: unknown claim \"", name, "\""));
      }
    }
    auto text = [&](const char* name) -> std::string {
      auto it = claims.find(name);
      return it != claims.end() && it->is_string() ? it->get<std::string>()
                                                   : "";
    };
    auto number = [&](const char* name) -> std::optional<int64_t> {
      auto it = claims.find(name);
      if (it == claims.end() || !it->is_number_integer()) return std::nullopt;
      return it->get<int64_t>();
    };
    if (text("aud") != options_.issuer) {
      return absl::InvalidArgumentError(
          absl::StrCat("aud: expected \"", options_.issuer, "\", got \"",
                       text("aud"), "\""));
    }
    if (text("iss").empty()) return absl::InvalidArgumentError("iss: missing");
    std::optional<int64_t> iat = number("iat");
    std::optional<int64_t> exp = number("exp");
    if (!iat || !exp) return absl::InvalidArgumentError("iat, exp: missing");
    const int64_t now_s = clock_->NowMillis() / 1000;
    if (*iat > now_s + kMaxIatSkewS || *iat < now_s - kMaxIatSkewS) {
      return absl::InvalidArgumentError(
          absl::StrCat("iat: ", *iat - now_s, " s from now, at most ",
                       kMaxIatSkewS, " s allowed"));
    }
    if (*exp <= now_s) return absl::InvalidArgumentError("exp: expired");
    if (*exp <= *iat || *exp - *iat > kMaxGrantLifetimeS) {
      return absl::InvalidArgumentError(
          "exp: must be after iat and at most 120 s after it");
    }
    std::string jti = text("jti");
    if (jti.empty()) return absl::InvalidArgumentError("jti: missing");
    std::set<std::string> scopes = SplitScopes(text("scope"));
    if (scopes.empty()) return absl::InvalidArgumentError("scope: missing");
    for (const std::string& s : scopes) {
      if (allowed_.count(s) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("scope: \"", s, "\" is not granted to this client"));
      }
    }
    {
      absl::MutexLock lock(&mu_);
      if (!seen_jti_.insert(jti).second) {
        return absl::InvalidArgumentError("jti: used before");
      }
    }
    IssuedToken token;
    token.scopes = std::move(scopes);
    token.client_id = text("iss");
    return token;
  }

  TokenIssuerOptions options_;
  const Clock* const clock_;
  X509_STORE* const store_;  // Owned. Read-only after construction.
  std::set<std::string> allowed_;
  absl::Mutex mu_;
  int64_t lifetime_ms_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, IssuedToken> tokens_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> seen_jti_ ABSL_GUARDED_BY(mu_);
  int64_t issued_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TokenIssuer>> NewTokenIssuer(
    TokenIssuerOptions options) {
  X509_STORE* store = X509_STORE_new();
  if (options.ca_file.empty() ||
      X509_STORE_load_file(store, options.ca_file.c_str()) != 1) {
    X509_STORE_free(store);
    return absl::InvalidArgumentError(
        absl::StrCat("token_ca: cannot read \"", options.ca_file, "\""));
  }
  return std::make_unique<TokenIssuerImpl>(std::move(options), store);
}

}  // namespace utpost::sim
