// The configuration of tokens, registries and Altinn (#3).
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

std::string Config(const std::string& providers_extra) {
  return R"(
server: {cert_file: s.pem, key_file: s.key, client_ca_file: ca.pem}
receipts: {key_file: r.key, cert_chain_file: r.pem}
providers:
  registry_url: https://127.0.0.1:1
  digipost: {url: "https://127.0.0.1:1", sender_id: "1", signing_key_file: k.pem}
  print: {url: "https://127.0.0.1:1"}
)" + providers_extra;
}

constexpr char kMaskinporten[] = R"(
  maskinporten:
    token_url: https://mp.test/token
    audience: https://mp.test/
    client_id: c
    key_file: mp.key
    cert_chain_file: mp.pem
)";

TEST(ConfigChannelsTest, DefaultsAndResolvedPaths) {
  auto c = ParseConfig(Config(std::string(kMaskinporten) + R"(
  business_registry: {url: "https://brreg.test"}
  altinn: {url: "https://altinn.test", resource_id: res}
)"),
                       "/etc/utpost");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->providers().maskinporten().key_file(), "/etc/utpost/mp.key");
  EXPECT_EQ(c->providers().maskinporten().cert_chain_file(),
            "/etc/utpost/mp.pem");
  EXPECT_EQ(c->providers().registry_cache_seconds(), 3600);
  EXPECT_EQ(c->providers().business_registry().cache_seconds(), 3600);
  EXPECT_EQ(c->providers().altinn().language(), "nb");
}

TEST(ConfigChannelsTest, ZeroDisablesTheRegistryCache) {
  auto c = ParseConfig(Config("  registry_cache_seconds: 0\n"), "/");
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->providers().has_registry_cache_seconds());
  EXPECT_EQ(c->providers().registry_cache_seconds(), 0);
}

TEST(ConfigChannelsTest, NamesMissingSettings) {
  EXPECT_THAT(ParseConfig(Config(R"(
  maskinporten: {token_url: "https://mp.test/token"}
)"),
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("providers.maskinporten.audience")));
  EXPECT_THAT(ParseConfig(Config(R"(
  altinn: {url: "https://altinn.test", resource_id: res}
)"),
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("providers.maskinporten.token_url")));
  EXPECT_THAT(ParseConfig(Config(std::string(kMaskinporten) + R"(
  altinn: {url: "https://altinn.test"}
)"),
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("providers.altinn.resource_id")));
}

}  // namespace
}  // namespace utpost::config
