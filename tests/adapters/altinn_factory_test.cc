// The Altinn channel and the business registry as their factories make them
// from the configuration (providers.altinn, providers.business_registry).
#include "adapters/altinn/altinn_factory.h"

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "adapters/altinn/altinn_channel.h"
#include "adapters/http/fake_http_client.h"
#include "adapters/http/token_source.h"
#include "adapters/registry/registry_factory.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::adapters {
namespace {

using ::utpost::testing::IsOk;

absl::StatusOr<HttpResponse> Reply(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(AltinnFactoryTest, TheRegisterIsAskedWithTheConfiguredToken) {
  const std::string file = ::testing::TempDir() + "/altinn-pat";
  {
    std::ofstream out(file);
    out << "aaa.bbb.ccc\n";
  }
  FakeHttpClient http([](const HttpRequest& r) {
    if (absl::StrContains(r.url, "/enhetsregisteret/api/enheter/")) {
      return Reply(200, R"({"navn": "X"})");
    }
    if (absl::StrContains(r.url, "/register/api/v1/organizations/")) {
      return FindHeader(r.headers, "PlatformAccessToken") == "aaa.bbb.ccc"
                 ? Reply(404, "")
                 : Reply(403, "");
    }
    return Reply(500, "");
  });
  AdapterContext context;
  context.http = &http;
  config::v1::Providers p;
  p.mutable_business_registry()->set_url("https://brreg.test");
  p.mutable_altinn()->set_url("https://altinn.test");
  // Without the token: not asked, an active unit can receive.
  auto plain = BrregAdapter().make(p, context);
  ASSERT_THAT(plain, IsOk());
  auto unasked = (*plain)->LookupOrganisation("910000004");
  ASSERT_THAT(unasked, IsOk());
  EXPECT_TRUE(unasked->has_inbox);
  EXPECT_EQ(http.requests().size(), 1u);
  // With it: Altinn's 404 says no inbox.
  p.mutable_business_registry()->set_altinn_platform_access_token_file(file);
  auto asking = BrregAdapter().make(p, context);
  ASSERT_THAT(asking, IsOk());
  auto asked = (*asking)->LookupOrganisation("910000004");
  ASSERT_THAT(asked, IsOk());
  EXPECT_FALSE(asked->has_inbox);
  EXPECT_EQ(http.requests().size(), 3u);
}

TEST(AltinnFactoryTest, TheChannelNamesDigdirOnItsReceipts) {
  FakeHttpClient http([](const HttpRequest& r) {
    if (absl::StrContains(r.url, "/authentication/api/v1/exchange/")) {
      return Reply(200, "altinn-token");
    }
    return Reply(200, R"({"correspondences": [{"correspondenceId": "c"}]})");
  });
  StaticTokenSource maskinporten("mp-token");
  AdapterContext context;
  context.http = &http;
  context.tokens = &maskinporten;
  config::v1::Providers p;
  p.mutable_altinn()->set_url("https://altinn.test");
  p.mutable_altinn()->set_resource_id("res");
  auto channel = AltinnAdapter().make(p, context);
  ASSERT_THAT(channel, IsOk());
  OutgoingLetter letter;
  letter.message_id = "5f0c8a9e-1b2c-4d3e-8f40-123456789abc";
  letter.tenant = "964338531";
  letter.organisation_number = "910000004";
  letter.title = "T";
  auto sent = (*channel)->Send(letter);
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->provider, "991825827");
}

}  // namespace
}  // namespace utpost::adapters
