#include "adapters/adapter_registry.h"

#include <memory>
#include <string>

#include "adapters/http/fake_http_client.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::adapters {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

class StubChannel final : public Channel {
 public:
  std::string name() const override { return "stub"; }
  absl::StatusOr<SendResult> Send(const OutgoingLetter&) override {
    return SendResult{};
  }
};

FakeHttpClient* Http() {
  static FakeHttpClient* http = new FakeHttpClient([](const HttpRequest&) {
    return HttpResponse{200, {}, "{}"};
  });
  return http;
}

TEST(AdapterRegistryTest, BuiltinsAreRegisteredByName) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  EXPECT_THAT(adapters.ChannelNames(),
              ElementsAre("altinn", "digipost", "dpi", "print"));
  EXPECT_THAT(adapters.RegistryNames(), ElementsAre("krr"));
  EXPECT_THAT(adapters.OrganisationRegistryNames(), ElementsAre("brreg"));
}

TEST(AdapterRegistryTest, MakesConfiguredAdapters) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  AdapterSettings settings;
  settings.base_url = "https://provider.test";
  settings.sender_id = "123456";
  settings.signing_key_file = "certs-dev/sender.key";
  settings.http = Http();

  auto digipost = adapters.MakeChannel("digipost", settings);
  ASSERT_THAT(digipost, IsOk());
  EXPECT_EQ((*digipost)->name(), "digital");
  auto print = adapters.MakeChannel("print", settings);
  ASSERT_THAT(print, IsOk());
  EXPECT_EQ((*print)->name(), "print");
  auto krr = adapters.MakeRegistry("krr", settings);
  ASSERT_THAT(krr, IsOk());
  EXPECT_THAT((*krr)->LookupPersons({}), IsOk());
}

TEST(AdapterRegistryTest, FactoriesReportBadSettings) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  AdapterSettings settings;
  settings.http = Http();
  EXPECT_THAT(
      adapters.MakeChannel("digipost", settings),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("digipost.url")));
  EXPECT_THAT(
      adapters.MakeChannel("print", settings),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("print.url")));
  EXPECT_THAT(
      adapters.MakeRegistry("krr", settings),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("registry_url")));
  settings.base_url = "https://provider.test";
  settings.http = nullptr;
  EXPECT_THAT(
      adapters.MakeChannel("print", settings),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("HTTP client")));
}

TEST(AdapterRegistryTest, DpiIsMadeByNameAndNamesWhatIsMissing) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  AdapterSettings settings;
  settings.http = Http();
  settings.base_url = "https://dpi.example";
  settings.signing_key_file = "certs-dev/sender.key";
  settings.bearer_token = "token";
  EXPECT_THAT(adapters.MakeChannel("dpi", settings),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dpi.certificate_file")));
  settings.certificate_file = "certs-dev/sender.pem";
  EXPECT_THAT(adapters.MakeChannel("dpi", settings),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("provider_certificate_file")));
  settings.provider_certificate_file = "certs-dev/dpi-provider.pem";
  auto channel = adapters.MakeChannel("dpi", settings);
  ASSERT_THAT(channel, IsOk());
  EXPECT_EQ((*channel)->name(), "dpi");
}

TEST(AdapterRegistryTest, UnknownNameListsTheKnownOnes) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  AdapterSettings settings;
  settings.http = Http();
  EXPECT_THAT(
      adapters.MakeChannel("eboks", settings),
      StatusIs(absl::StatusCode::kNotFound,
               AllOf(HasSubstr("eboks"), HasSubstr("digipost, dpi, print"))));
  EXPECT_THAT(adapters.MakeRegistry("brreg", settings),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("krr")));
}

TEST(AdapterRegistryTest, ExtraAdaptersRegisterOnceEach) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  auto stub =
      [](const AdapterSettings&) -> absl::StatusOr<std::unique_ptr<Channel>> {
    return std::make_unique<StubChannel>();
  };
  ASSERT_THAT(adapters.RegisterChannel("stub", stub), IsOk());
  EXPECT_THAT(adapters.RegisterChannel("stub", stub),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("stub")));
  EXPECT_THAT(adapters.RegisterChannel("print", stub),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("print")));
  EXPECT_THAT(adapters.RegisterChannel("", stub),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
  EXPECT_THAT(
      adapters.RegisterRegistry("none", nullptr),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("factory")));
  AdapterSettings settings;
  settings.http = Http();
  auto channel = adapters.MakeChannel("stub", settings);
  ASSERT_THAT(channel, IsOk());
  EXPECT_EQ((*channel)->name(), "stub");
}

TEST(AdapterRegistryTest, MakesAltinnAndTheBusinessRegistry) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  StaticTokenSource tokens("t");
  AdapterSettings settings;
  settings.base_url = "https://provider.test";
  settings.http = Http();
  EXPECT_THAT(
      adapters.MakeChannel("altinn", settings),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("maskinporten")));
  settings.tokens = &tokens;
  EXPECT_THAT(
      adapters.MakeChannel("altinn", settings),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("resource_id")));
  settings.altinn_resource_id = "res";
  auto altinn = adapters.MakeChannel("altinn", settings);
  ASSERT_THAT(altinn, IsOk());
  EXPECT_EQ((*altinn)->name(), "altinn");
  settings.altinn_url = "https://altinn.test";
  EXPECT_THAT(adapters.MakeOrganisationRegistry("brreg", settings), IsOk());
  settings.base_url.clear();
  EXPECT_THAT(adapters.MakeOrganisationRegistry("brreg", settings),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("business_registry.url")));
}

}  // namespace
}  // namespace utpost::adapters
