// providers.dpi (#3): optional, and complete when set.
#include <string>

#include "common/status_matchers.h"
#include "gateway/config/config_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::config {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

// A minimal worker configuration with `dpi` as the providers.dpi line.
std::string WithDpi(const std::string& dpi) {
  return R"(
server: {cert_file: s.pem, key_file: s.key, client_ca_file: ca.pem}
receipts: {key_file: r.key, cert_chain_file: r.pem}
providers:
  registry_url: https://127.0.0.1:1
  digipost: {url: "https://127.0.0.1:1", sender_id: "1", signing_key_file: k.pem}
  print: {url: "https://127.0.0.1:1"}
)" + dpi +
         R"(
tenants:
  - organisation_number: "964338531"
    name: Bergen
    return_address: {name: Bergen kommune, address_lines: [Postboks 7700], postal_code: "5020", city: Bergen}
)";
}

TEST(ConfigLoaderDpiTest, IsOptional) {
  auto c = ParseConfig(WithDpi(""), "/etc/utpost");
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->providers().dpi().url().empty());
}

TEST(ConfigLoaderDpiTest, ResolvesItsFiles) {
  auto c = ParseConfig(
      WithDpi("  dpi: {url: \"https://127.0.0.1:2\", signing_key_file: "
              "k.pem, certificate_file: c.pem, provider_certificate_file: "
              "p.pem, provider_ca_file: /abs/ca.pem, certificate_root_file: "
              "root.pem, print_certificate_file: print.pem}"),
      "/etc/utpost");
  ASSERT_THAT(c, IsOk());
  const auto& dpi = c->providers().dpi();
  EXPECT_EQ(dpi.signing_key_file(), "/etc/utpost/k.pem");
  EXPECT_EQ(dpi.certificate_file(), "/etc/utpost/c.pem");
  EXPECT_EQ(dpi.provider_certificate_file(), "/etc/utpost/p.pem");
  EXPECT_EQ(dpi.provider_ca_file(), "/abs/ca.pem");
  EXPECT_EQ(dpi.certificate_root_file(), "/etc/utpost/root.pem");
  EXPECT_EQ(dpi.print_certificate_file(), "/etc/utpost/print.pem");
}

TEST(ConfigLoaderDpiTest, NamesWhatIsMissing) {
  EXPECT_THAT(
      ParseConfig(WithDpi("  dpi: {url: \"https://127.0.0.1:2\"}"), "/"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("providers.dpi.signing_key_file")));
  EXPECT_THAT(ParseConfig(WithDpi("  dpi: {url: \"https://127.0.0.1:2\", "
                                  "signing_key_file: k, certificate_file: c}"),
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("providers.dpi.provider_certificate_file")));
}

}  // namespace
}  // namespace utpost::config
