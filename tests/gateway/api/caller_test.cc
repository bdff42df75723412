#include "gateway/api/caller.h"

#include <fstream>
#include <sstream>
#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::api {
namespace {

using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(OrganisationNumberFromPemTest, ReadsTheEidasOrganisationIdentifier) {
  auto org = OrganisationNumberFromPem(Read("certs-dev/tenant-964338531.pem"));
  ASSERT_THAT(org, IsOk());
  EXPECT_EQ(*org, "964338531");
  org = OrganisationNumberFromPem(Read("certs-dev/tenant-958935420.pem"));
  ASSERT_THAT(org, IsOk());
  EXPECT_EQ(*org, "958935420");
}

TEST(OrganisationNumberFromPemTest, CertificateWithoutOneIsNotFound) {
  EXPECT_THAT(OrganisationNumberFromPem(Read("certs-dev/operator.pem")),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST(OrganisationNumberFromPemTest, GarbageIsUnauthenticated) {
  EXPECT_THAT(OrganisationNumberFromPem("not a certificate"),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
}

TEST(ReadClientCertificateTest, TenantAndOperatorCertificatesAreForClients) {
  for (const char* path :
       {"certs-dev/tenant-964338531.pem", "certs-dev/tenant-958935420.pem",
        "certs-dev/operator.pem"}) {
    auto cert = ReadClientCertificate(Read(path));
    ASSERT_THAT(cert, IsOk()) << path;
    EXPECT_TRUE(cert->client_auth) << path;
  }
}

TEST(ReadClientCertificateTest, SigningCertificatesAreNotForClients) {
  // sender.pem names Bergen kommune, but signs requests; it has no
  // extended key usage at all, which OpenSSL reads as "any".
  for (const char* path : {"certs-dev/sender.pem", "certs-dev/receipts.pem",
                           "certs-dev/dpi-provider.pem"}) {
    auto cert = ReadClientCertificate(Read(path));
    ASSERT_THAT(cert, IsOk()) << path;
    EXPECT_FALSE(cert->client_auth) << path;
  }
  auto sender = ReadClientCertificate(Read("certs-dev/sender.pem"));
  EXPECT_EQ(sender->organisation, "964338531");
}

TEST(ReadClientCertificateTest, TwoOrganisationsAreRefused) {
  EXPECT_THAT(ReadClientCertificate(Read("certs-dev/two-orgs.pem")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       ::testing::HasSubstr("2 organisation identifiers")));
  EXPECT_THAT(OrganisationNumberFromPem(Read("certs-dev/two-orgs.pem")),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
}

}  // namespace
}  // namespace utpost::api
