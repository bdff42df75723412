#include "adapters/http/maskinporten_token_source.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "adapters/http/fake_http_client.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

constexpr char kScope[] = "krr:global/kontaktinformasjon.read";
constexpr int64_t kNow = 1'800'000'000'000;

std::string FormValue(const std::string& body, const std::string& name) {
  for (absl::string_view pair : absl::StrSplit(body, '&')) {
    std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.size() == 2 && kv[0] == name) {
      // Percent-decoding of what the client encodes.
      std::string out;
      for (size_t i = 0; i < kv[1].size(); ++i) {
        if (kv[1][i] == '%' && i + 2 < kv[1].size() + 0) {
          out.push_back(static_cast<char>(
              std::stoi(kv[1].substr(i + 1, 2), nullptr, 16)));
          i += 2;
        } else {
          out.push_back(kv[1][i]);
        }
      }
      return out;
    }
  }
  return "";
}

struct Jwt {
  json header;
  json claims;
  std::string signing_input;
  std::string signature;
};

Jwt Decode(const std::string& jwt) {
  std::vector<std::string> parts = absl::StrSplit(jwt, '.');
  EXPECT_EQ(parts.size(), 3u);
  Jwt out;
  std::string h, c;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[0], &h));
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[1], &c));
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[2], &out.signature));
  out.header = json::parse(h);
  out.claims = json::parse(c);
  out.signing_input = parts[0] + "." + parts[1];
  return out;
}

bool VerifiesWithCert(const Jwt& jwt, const std::string& x5c0) {
  std::string der;
  if (!absl::Base64Unescape(x5c0, &der)) return false;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr,
                           X509_get0_pubkey(cert)) == 1 &&
      EVP_DigestVerify(
          ctx, reinterpret_cast<const unsigned char*>(jwt.signature.data()),
          jwt.signature.size(),
          reinterpret_cast<const unsigned char*>(jwt.signing_input.data()),
          jwt.signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  X509_free(cert);
  return ok;
}

MaskinportenOptions Options(const Clock* clock) {
  MaskinportenOptions o;
  o.token_url = "https://issuer.test/token";
  o.audience = "https://issuer.test/";
  o.client_id = "client-1";
  o.key_file = "certs-dev/sender.key";
  o.cert_chain_file = "certs-dev/sender.pem";
  o.clock = clock;
  return o;
}

absl::StatusOr<HttpResponse> TokenReply(const std::string& token,
                                        int expires_in) {
  HttpResponse r;
  r.status = 200;
  r.body = json{
      {"access_token", token},
      {"token_type", "Bearer"},
      {"expires_in", expires_in},
      {"scope",
       kScope}}.dump();
  return r;
}

TEST(MaskinportenTokenSourceTest, GrantIsAnRs256JwtWithExactlyTheClaims) {
  FakeClock clock(kNow);
  FakeHttpClient http(
      [](const HttpRequest&) { return TokenReply("tok-1", 120); });
  auto source = NewMaskinportenTokenSource(Options(&clock), &http);
  ASSERT_THAT(source, IsOk());
  auto token = (*source)->Token(kScope);
  ASSERT_THAT(token, IsOk());
  EXPECT_EQ(*token, "tok-1");

  ASSERT_EQ(http.requests().size(), 1u);
  const HttpRequest request = http.requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://issuer.test/token");
  EXPECT_EQ(FindHeader(request.headers, "Content-Type"),
            "application/x-www-form-urlencoded");
  EXPECT_EQ(FormValue(request.body, "grant_type"),
            "urn:ietf:params:oauth:grant-type:jwt-bearer");
  Jwt jwt = Decode(FormValue(request.body, "assertion"));
  EXPECT_EQ(jwt.header["alg"], "RS256");
  ASSERT_TRUE(jwt.header["x5c"].is_array());
  ASSERT_EQ(jwt.header["x5c"].size(), 1u);
  EXPECT_TRUE(VerifiesWithCert(jwt, jwt.header["x5c"][0].get<std::string>()));

  std::set<std::string> names;
  for (const auto& [name, value] : jwt.claims.items()) names.insert(name);
  EXPECT_THAT(names,
              UnorderedElementsAre("aud", "iss", "iat", "exp", "jti", "scope"));
  EXPECT_EQ(jwt.claims["aud"], "https://issuer.test/");
  EXPECT_EQ(jwt.claims["iss"], "client-1");
  EXPECT_EQ(jwt.claims["scope"], kScope);
  EXPECT_EQ(jwt.claims["iat"].get<int64_t>(), kNow / 1000);
  const int64_t lifetime =
      jwt.claims["exp"].get<int64_t>() - jwt.claims["iat"].get<int64_t>();
  EXPECT_GT(lifetime, 0);
  EXPECT_LE(lifetime, 120);
  EXPECT_GE(jwt.claims["jti"].get<std::string>().size(), 16u);
}

TEST(MaskinportenTokenSourceTest, CachesPerScopeUntilShortlyBeforeExpiry) {
  FakeClock clock(kNow);
  int issued = 0;
  FakeHttpClient http([&issued](const HttpRequest&) {
    return TokenReply("tok-" + std::to_string(++issued), 120);
  });
  auto source = NewMaskinportenTokenSource(Options(&clock), &http);
  ASSERT_THAT(source, IsOk());
  EXPECT_EQ(*(*source)->Token(kScope), "tok-1");
  clock.Advance(50'000);
  EXPECT_EQ(*(*source)->Token(kScope), "tok-1");
  EXPECT_EQ(http.requests().size(), 1u);
  // Another scope is another token.
  EXPECT_EQ(*(*source)->Token("other:scope"), "tok-2");
  // 60 s before the end of its 120 s, it is replaced.
  clock.Advance(11'000);
  EXPECT_EQ(*(*source)->Token(kScope), "tok-3");
  EXPECT_EQ(http.requests().size(), 3u);
}

TEST(MaskinportenTokenSourceTest, EveryGrantHasANewJti) {
  FakeClock clock(kNow);
  FakeHttpClient http(
      [](const HttpRequest&) { return TokenReply("tok", 120); });
  auto source = NewMaskinportenTokenSource(Options(&clock), &http);
  ASSERT_THAT(source, IsOk());
  std::set<std::string> jtis;
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT((*source)->Token(kScope), IsOk());
    (*source)->Invalidate(kScope, "tok");
  }
  const std::vector<HttpRequest> requests = http.requests();
  ASSERT_EQ(requests.size(), 5u);
  for (const HttpRequest& r : requests) {
    jtis.insert(Decode(FormValue(r.body, "assertion"))
                    .claims["jti"]
                    .get<std::string>());
  }
  EXPECT_EQ(jtis.size(), 5u);
}

TEST(MaskinportenTokenSourceTest, InvalidateFetchesANewTokenOnce) {
  FakeClock clock(kNow);
  int issued = 0;
  FakeHttpClient http([&issued](const HttpRequest&) {
    return TokenReply("tok-" + std::to_string(++issued), 120);
  });
  auto source = NewMaskinportenTokenSource(Options(&clock), &http);
  ASSERT_THAT(source, IsOk());
  EXPECT_EQ(*(*source)->Token(kScope), "tok-1");
  (*source)->Invalidate(kScope, "tok-1");
  EXPECT_EQ(*(*source)->Token(kScope), "tok-2");
  // A late report about the replaced token changes nothing.
  (*source)->Invalidate(kScope, "tok-1");
  EXPECT_EQ(*(*source)->Token(kScope), "tok-2");
  EXPECT_EQ(http.requests().size(), 2u);
}

TEST(MaskinportenTokenSourceTest, ClassifiesIssuerErrors) {
  FakeClock clock(kNow);
  int status = 503;
  FakeHttpClient http([&status](const HttpRequest&) {
    HttpResponse r;
    r.status = status;
    r.body = R"({"error":"invalid_grant","error_description":"jti: used"})";
    return absl::StatusOr<HttpResponse>(r);
  });
  auto source = NewMaskinportenTokenSource(Options(&clock), &http);
  ASSERT_THAT(source, IsOk());
  EXPECT_THAT((*source)->Token(kScope),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  status = 400;
  EXPECT_THAT(
      (*source)->Token(kScope),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("jti: used")));
}

TEST(MaskinportenTokenSourceTest, RefusesMissingOptionsAndBadFiles) {
  FakeHttpClient http([](const HttpRequest&) { return TokenReply("t", 1); });
  MaskinportenOptions o = Options(nullptr);
  o.client_id.clear();
  EXPECT_THAT(
      NewMaskinportenTokenSource(o, &http),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("client_id")));
  o = Options(nullptr);
  o.key_file = "certs-dev/receipts.key";  // EC, not RSA.
  EXPECT_THAT(
      NewMaskinportenTokenSource(o, &http),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_file")));
  o = Options(nullptr);
  o.grant_lifetime_seconds = 121;
  EXPECT_THAT(NewMaskinportenTokenSource(o, &http),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

}  // namespace
}  // namespace utpost::adapters
