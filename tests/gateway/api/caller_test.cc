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

}  // namespace
}  // namespace utpost::api
