#include "adapters/http/request_signer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "adapters/http/http_client.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::adapters {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

// 1994-11-06T08:49:37Z, the example date of RFC 9110.
constexpr int64_t kExampleMillis = 784111777000;

std::string Base64Sha256(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(md), sizeof(md)));
}

// Verifies `signature_b64` over `text` with the public key of the
// certificate at `cert_file`, using OpenSSL directly.
bool VerifiesWithCertificate(const std::string& cert_file,
                             const std::string& text,
                             const std::string& signature_b64) {
  std::string signature;
  if (!absl::Base64Unescape(signature_b64, &signature)) return false;
  std::FILE* file = std::fopen(cert_file.c_str(), "rb");
  if (file == nullptr) return false;
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (cert == nullptr) return false;
  EVP_PKEY* key = X509_get_pubkey(cert);
  X509_free(cert);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(
          ctx, reinterpret_cast<const unsigned char*>(signature.data()),
          signature.size(), reinterpret_cast<const unsigned char*>(text.data()),
          text.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

TEST(CanonicalRequestStringTest, SignedHeadersInNameOrderOthersLeftOut) {
  HttpHeaders headers = {{"X-Digipost-UserId", "123456"},
                         {"Content-Type", "multipart/vnd.digipost-v8+xml"},
                         {"X-Content-SHA256", "abc="},
                         {"date", "Sun, 06 Nov 1994 08:49:37 GMT"},
                         {"Content-MD5", "md5="}};
  EXPECT_EQ(CanonicalRequestString("POST", "/Messages", headers, "A=B&c=D"),
            "POST\n"
            "/messages\n"
            "content-md5: md5=\n"
            "date: Sun, 06 Nov 1994 08:49:37 GMT\n"
            "x-content-sha256: abc=\n"
            "x-digipost-userid: 123456\n"
            "a=b&c=d\n");
}

TEST(CanonicalRequestStringTest, EmptyQueryStillEndsWithItsLine) {
  HttpHeaders headers = {{"Date", "d"}};
  EXPECT_EQ(CanonicalRequestString("GET", "/", headers, ""),
            "GET\n/\ndate: d\n\n");
}

TEST(FormatHttpDateTest, Rfc1123InGmt) {
  EXPECT_EQ(FormatHttpDate(kExampleMillis), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(SplitUrlTest, PathAndQuery) {
  std::string path, query;
  ASSERT_THAT(SplitUrl("https://h:8443/a/B?x=1&y=2", &path, &query), IsOk());
  EXPECT_EQ(path, "/a/B");
  EXPECT_EQ(query, "x=1&y=2");
  ASSERT_THAT(SplitUrl("https://h:8443", &path, &query), IsOk());
  EXPECT_EQ(path, "/");
  EXPECT_EQ(query, "");
  ASSERT_THAT(SplitUrl("https://h?q", &path, &query), IsOk());
  EXPECT_EQ(path, "/");
  EXPECT_EQ(query, "q");
  EXPECT_THAT(SplitUrl("/relative", &path, &query),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("URL")));
}

TEST(RequestSignerTest, SignatureVerifiesWithSenderCertificate) {
  FakeClock clock(kExampleMillis);
  auto signer =
      RequestSigner::FromKeyFile("certs-dev/sender.key", "123456", &clock);
  ASSERT_THAT(signer, IsOk());
  HttpRequest request;
  request.method = "POST";
  request.url = "https://127.0.0.1:8443/messages";
  request.headers = {{"Content-Type", "text/plain"}};
  request.body = "hello";
  ASSERT_THAT((*signer)->Sign(&request), IsOk());

  EXPECT_THAT(FindHeader(request.headers, "X-Digipost-UserId"),
              Optional(std::string("123456")));
  EXPECT_THAT(FindHeader(request.headers, "Date"),
              Optional(std::string("Sun, 06 Nov 1994 08:49:37 GMT")));
  EXPECT_THAT(FindHeader(request.headers, "X-Content-SHA256"),
              Optional(Base64Sha256("hello")));
  std::optional<std::string> signature =
      FindHeader(request.headers, "X-Digipost-Signature");
  ASSERT_TRUE(signature.has_value());
  // Written out by hand, not with CanonicalRequestString, so that a fault
  // there is not repeated here.
  std::string expected_canonical =
      "POST\n/messages\n"
      "date: Sun, 06 Nov 1994 08:49:37 GMT\n"
      "x-content-sha256: " +
      Base64Sha256("hello") +
      "\n"
      "x-digipost-userid: 123456\n"
      "\n";
  EXPECT_TRUE(VerifiesWithCertificate("certs-dev/sender.pem",
                                      expected_canonical, *signature));
  EXPECT_FALSE(VerifiesWithCertificate("certs-dev/tenant-964338531.pem",
                                       expected_canonical, *signature));
}

TEST(RequestSignerTest, NoBodyNoDigestHeader) {
  FakeClock clock(kExampleMillis);
  auto signer =
      RequestSigner::FromKeyFile("certs-dev/sender.key", "123456", &clock);
  ASSERT_THAT(signer, IsOk());
  HttpRequest request;
  request.method = "GET";
  request.url = "https://127.0.0.1:8443/Status?ID=7";
  request.headers = {{"x-content-sha256", "stale"}};
  ASSERT_THAT((*signer)->Sign(&request), IsOk());
  EXPECT_FALSE(FindHeader(request.headers, "X-Content-SHA256").has_value());
  std::string expected_canonical =
      "GET\n/status\n"
      "date: Sun, 06 Nov 1994 08:49:37 GMT\n"
      "x-digipost-userid: 123456\n"
      "id=7\n";
  EXPECT_TRUE(VerifiesWithCertificate(
      "certs-dev/sender.pem", expected_canonical,
      *FindHeader(request.headers, "X-Digipost-Signature")));
}

TEST(RequestSignerTest, SigningAgainReplacesHeaders) {
  FakeClock clock(kExampleMillis);
  auto signer =
      RequestSigner::FromKeyFile("certs-dev/sender.key", "123456", &clock);
  ASSERT_THAT(signer, IsOk());
  HttpRequest request;
  request.method = "POST";
  request.url = "https://h/messages";
  request.body = "x";
  ASSERT_THAT((*signer)->Sign(&request), IsOk());
  clock.Advance(1000);
  ASSERT_THAT((*signer)->Sign(&request), IsOk());
  int dates = 0;
  for (const auto& [name, value] : request.headers) dates += name == "Date";
  EXPECT_EQ(dates, 1);
  EXPECT_THAT(FindHeader(request.headers, "Date"),
              Optional(std::string("Sun, 06 Nov 1994 08:49:38 GMT")));
}

TEST(RequestSignerTest, RefusesMissingFileNonRsaKeyAndEmptyUser) {
  EXPECT_THAT(RequestSigner::FromKeyFile("certs-dev/missing.key", "1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("signing_key_file")));
  // The receipt key is EC P-256.
  EXPECT_THAT(RequestSigner::FromKeyFile("certs-dev/receipts.key", "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RSA")));
  EXPECT_THAT(
      RequestSigner::FromKeyFile("certs-dev/sender.pem", "1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("private key")));
  EXPECT_THAT(
      RequestSigner::FromKeyFile("certs-dev/sender.key", ""),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sender_id")));
}

}  // namespace
}  // namespace utpost::adapters
