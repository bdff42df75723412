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
using ::testing::IsNull;
using ::testing::Pair;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
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

AdapterContext Context() {
  AdapterContext context;
  context.http = Http();
  return context;
}

// Digipost and print, as every gateway has them.
config::v1::Providers Basic() {
  config::v1::Providers p;
  p.set_registry_url("https://registry.test");
  p.mutable_digipost()->set_url("https://digipost.test");
  p.mutable_digipost()->set_sender_id("123456");
  p.mutable_digipost()->set_signing_key_file("certs-dev/sender.key");
  p.mutable_print()->set_url("https://print.test");
  return p;
}

ChannelAdapter Stub(std::string default_channel) {
  ChannelAdapter a;
  a.default_channel = std::move(default_channel);
  a.configured = [](const config::v1::Providers&) { return true; };
  a.make =
      [](const config::v1::Providers&,
         const AdapterContext&) -> absl::StatusOr<std::unique_ptr<Channel>> {
    return std::make_unique<StubChannel>();
  };
  return a;
}

TEST(AdapterRegistryTest, BuiltinsAreRegisteredByName) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  EXPECT_THAT(adapters.ChannelNames(),
              ElementsAre("altinn", "digipost", "dpi", "print"));
  EXPECT_THAT(adapters.RegistryNames(), ElementsAre("krr"));
  EXPECT_THAT(adapters.OrganisationRegistryNames(), ElementsAre("brreg"));
}

TEST(AdapterRegistryTest, ChannelsAreThoseWhoseOptionsAreSet) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  config::v1::Providers p = Basic();
  EXPECT_THAT(adapters.ChannelsOf(p),
              IsOkAndHolds(ElementsAre(Pair("digital", "digipost"),
                                       Pair("print", "print"))));
  p.mutable_dpi()->set_url("https://dpi.test");
  p.mutable_altinn()->set_url("https://altinn.test");
  EXPECT_THAT(adapters.ChannelsOf(p),
              IsOkAndHolds(ElementsAre(
                  Pair("altinn", "altinn"), Pair("digital", "digipost"),
                  Pair("dpi", "dpi"), Pair("print", "print"))));
}

TEST(AdapterRegistryTest, ConfigurationChoosesTheAdapterOfAChannel) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  ASSERT_THAT(adapters.RegisterChannel("other-print", Stub("")), IsOk());
  config::v1::Providers p = Basic();
  (*p.mutable_channel_adapters())["print"] = "other-print";
  EXPECT_THAT(adapters.ChannelsOf(p),
              IsOkAndHolds(ElementsAre(Pair("digital", "digipost"),
                                       Pair("print", "other-print"))));
  (*p.mutable_channel_adapters())["print"] = "fax";
  EXPECT_THAT(adapters.ChannelsOf(p),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("channel_adapters[print]"),
                             HasSubstr("\"fax\""), HasSubstr("other-print"))));
  (*p.mutable_channel_adapters())["print"] = "dpi";
  EXPECT_THAT(adapters.ChannelsOf(p),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("options are not set")));
}

TEST(AdapterRegistryTest, MakesConfiguredAdapters) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  const config::v1::Providers p = Basic();
  auto digipost = adapters.MakeChannel("digipost", p, Context());
  ASSERT_THAT(digipost, IsOk());
  EXPECT_EQ((*digipost)->name(), "digital");
  auto print = adapters.MakeChannel("print", p, Context());
  ASSERT_THAT(print, IsOk());
  EXPECT_EQ((*print)->name(), "print");
  auto krr = adapters.MakeRegistry("krr", p, Context());
  ASSERT_THAT(krr, IsOk());
  EXPECT_THAT((*krr)->LookupPersons({}), IsOk());
  // No business registry configured: none, and no error.
  EXPECT_THAT(adapters.MakeOrganisationRegistry("brreg", p, Context()),
              IsOkAndHolds(IsNull()));
}

TEST(AdapterRegistryTest, FactoriesReportBadSettings) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  config::v1::Providers p;
  EXPECT_THAT(
      adapters.MakeChannel("print", p, Context()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("print.url")));
  EXPECT_THAT(
      adapters.MakeRegistry("krr", p, Context()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("registry_url")));
  p = Basic();
  EXPECT_THAT(
      adapters.MakeChannel("print", p, AdapterContext{}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("HTTP client")));
}

TEST(AdapterRegistryTest, DpiIsMadeByNameAndNamesWhatIsMissing) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  config::v1::Providers p = Basic();
  auto* dpi = p.mutable_dpi();
  dpi->set_url("https://dpi.example");
  dpi->set_signing_key_file("certs-dev/sender.key");
  EXPECT_THAT(adapters.MakeChannel("dpi", p, Context()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dpi.certificate_file")));
  dpi->set_certificate_file("certs-dev/sender.pem");
  EXPECT_THAT(adapters.MakeChannel("dpi", p, Context()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("provider_certificate_file")));
  dpi->set_provider_certificate_file("certs-dev/dpi-provider.pem");
  auto channel = adapters.MakeChannel("dpi", p, Context());
  ASSERT_THAT(channel, IsOk());
  EXPECT_EQ((*channel)->name(), "dpi");
}

TEST(AdapterRegistryTest, UnknownNameListsTheKnownOnes) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  const config::v1::Providers p = Basic();
  EXPECT_THAT(
      adapters.MakeChannel("eboks", p, Context()),
      StatusIs(absl::StatusCode::kNotFound,
               AllOf(HasSubstr("eboks"), HasSubstr("digipost, dpi, print"))));
  EXPECT_THAT(adapters.MakeRegistry("brreg", p, Context()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("krr")));
}

TEST(AdapterRegistryTest, ExtraAdaptersRegisterOnceEach) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  ASSERT_THAT(adapters.RegisterChannel("stub", Stub("")), IsOk());
  EXPECT_THAT(adapters.RegisterChannel("stub", Stub("")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("stub")));
  EXPECT_THAT(adapters.RegisterChannel("print", Stub("")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("print")));
  EXPECT_THAT(adapters.RegisterChannel("", Stub("")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
  EXPECT_THAT(
      adapters.RegisterRegistry("none", RegistryAdapter{}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("functions")));
  auto channel = adapters.MakeChannel("stub", Basic(), Context());
  ASSERT_THAT(channel, IsOk());
  EXPECT_EQ((*channel)->name(), "stub");
}

TEST(AdapterRegistryTest, MakesAltinnAndTheBusinessRegistry) {
  AdapterRegistry adapters;
  RegisterBuiltinAdapters(&adapters);
  StaticTokenSource tokens("t");
  config::v1::Providers p = Basic();
  p.mutable_altinn()->set_url("https://altinn.test");
  AdapterContext context = Context();
  EXPECT_THAT(
      adapters.MakeChannel("altinn", p, context),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("maskinporten")));
  context.tokens = &tokens;
  EXPECT_THAT(
      adapters.MakeChannel("altinn", p, context),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("resource_id")));
  p.mutable_altinn()->set_resource_id("res");
  auto altinn = adapters.MakeChannel("altinn", p, context);
  ASSERT_THAT(altinn, IsOk());
  EXPECT_EQ((*altinn)->name(), "altinn");
  p.mutable_business_registry()->set_url("https://brreg.test");
  auto brreg = adapters.MakeOrganisationRegistry("brreg", p, context);
  ASSERT_THAT(brreg, IsOk());
  EXPECT_NE(*brreg, nullptr);
}

}  // namespace
}  // namespace utpost::adapters
