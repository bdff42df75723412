#include "sim/signature_check.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cstdio>
#include <string>

#include "absl/strings/escaping.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sim/signing.h"

namespace utpost::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

constexpr int64_t kNow = 784111777000;  // Sun, 06 Nov 1994 08:49:37 GMT.
constexpr char kDate[] = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr int64_t kSkew = 5 * 60 * 1000;

using ::utpost::sim::testing::Base64Sha256;
using ::utpost::sim::testing::SignWith;

class SignatureCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto checker = SignatureChecker::FromCertFile("certs-dev/sender.pem");
    ASSERT_THAT(checker, IsOk());
    checker_ = *std::move(checker);
    request_.method = "POST";
    request_.target = "/Messages?A=1";
    request_.body = body_;
    request_.date = kDate;
    request_.user_id = "123456";
    request_.content_sha256 = Base64Sha256(body_);
    request_.signature = SignWith("certs-dev/sender.key", Canonical());
  }

  std::string Canonical() const {
    return "POST\n/messages\ndate: " + std::string(kDate) +
           "\nx-content-sha256: " + Base64Sha256(body_) +
           "\nx-digipost-userid: 123456\na=1\n";
  }

  std::string body_ = "multipart body";
  SignedRequest request_;
  std::unique_ptr<SignatureChecker> checker_;
};

TEST_F(SignatureCheckerTest, AcceptsACorrectlySignedRequest) {
  EXPECT_THAT(checker_->Check(request_, kNow, kSkew), IsOk());
  EXPECT_THAT(checker_->Check(request_, kNow + kSkew, kSkew), IsOk());
}

TEST_F(SignatureCheckerTest, RefusesAnotherKey) {
  request_.signature = SignWith("certs-dev/tenant-964338531.key", Canonical());
  EXPECT_THAT(checker_->Check(request_, kNow, kSkew),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("does not verify")));
}

TEST_F(SignatureCheckerTest, RefusesAChangedBody) {
  std::string other = "another body";
  request_.body = other;
  EXPECT_THAT(checker_->Check(request_, kNow, kSkew),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("X-Content-SHA256")));
}

TEST_F(SignatureCheckerTest, RefusesAChangedSignedHeader) {
  request_.user_id = "654321";
  EXPECT_THAT(checker_->Check(request_, kNow, kSkew),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("does not verify")));
}

TEST_F(SignatureCheckerTest, RefusesAClockTooFarOff) {
  EXPECT_THAT(checker_->Check(request_, kNow + kSkew + 1000, kSkew),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("Date")));
  EXPECT_THAT(checker_->Check(request_, kNow - kSkew - 1000, kSkew),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("Date")));
}

TEST_F(SignatureCheckerTest, RefusesMissingHeaders) {
  SignedRequest no_user = request_;
  no_user.user_id.reset();
  EXPECT_THAT(checker_->Check(no_user, kNow, kSkew),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("X-Digipost-UserId")));
  SignedRequest no_digest = request_;
  no_digest.content_sha256.reset();
  EXPECT_THAT(checker_->Check(no_digest, kNow, kSkew),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("X-Content-SHA256 is missing")));
  SignedRequest no_signature = request_;
  no_signature.signature.reset();
  EXPECT_THAT(checker_->Check(no_signature, kNow, kSkew),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("X-Digipost-Signature")));
  SignedRequest bad_date = request_;
  bad_date.date = "yesterday";
  EXPECT_THAT(
      checker_->Check(bad_date, kNow, kSkew),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("RFC 1123")));
}

TEST(ParseHttpDateTest, ReadsRfc1123) {
  EXPECT_THAT(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), Optional(kNow));
  EXPECT_THAT(ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT"),
              Optional(int64_t{0}));
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 CET").has_value());
  EXPECT_FALSE(ParseHttpDate("Sun, 31 Feb 1994 08:49:37 GMT").has_value());
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Foo 1994 08:49:37 GMT").has_value());
  EXPECT_FALSE(ParseHttpDate("").has_value());
}

TEST(SignatureCheckerFactoryTest, NeedsACertificate) {
  EXPECT_THAT(
      SignatureChecker::FromCertFile("certs-dev/none.pem"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("none.pem")));
  EXPECT_THAT(SignatureChecker::FromCertFile("certs-dev/sender.key"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no PEM certificate")));
}

}  // namespace
}  // namespace utpost::sim
