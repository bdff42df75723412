#include "gateway/dispatch/routing.h"

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::dispatch {
namespace {

using ::testing::HasSubstr;
using Mode = v1::DeliveryPolicy;
using PS = adapters::PersonContact::Status;
using OS = adapters::OrganisationContact::Status;

adapters::PersonContact Person(PS status, bool reserved,
                               const std::string& provider) {
  adapters::PersonContact p;
  p.person_number = "01817010055";
  p.status = status;
  p.reserved = reserved;
  if (!provider.empty()) {
    p.mailbox_address = "someone#1";
    p.mailbox_provider = provider;
  }
  return p;
}

adapters::OrganisationContact Org(OS status, bool inbox, bool address) {
  adapters::OrganisationContact o;
  o.organisation_number = "974760673";
  o.status = status;
  o.has_inbox = inbox;
  if (address) {
    o.postal_address.lines = {"Postboks 1"};
    o.postal_address.postal_code = "0101";
    o.postal_address.city = "Oslo";
  }
  return o;
}

// One row: recipient kind x policy -> channel ("" for failed).
struct Row {
  std::string kind;
  Mode::Mode mode;
  std::string channel;
  std::string reason_part;
};

class RoutingTableTest : public ::testing::TestWithParam<Row> {};

RoutingDecision Decide(const std::string& kind, Mode::Mode mode,
                       bool address = true) {
  static const adapters::PersonContact digipost =
      Person(PS::kActive, false, "984661185");
  static const adapters::PersonContact eboks =
      Person(PS::kActive, false, "922020175");
  static const adapters::PersonContact unknown_provider =
      Person(PS::kActive, false, "999999999");
  static const adapters::PersonContact reserved =
      Person(PS::kActive, true, "984661185");
  static const adapters::PersonContact no_mailbox =
      Person(PS::kActive, false, "");
  static const adapters::PersonContact unregistered =
      Person(PS::kNotRegistered, false, "");
  static const adapters::PersonContact deleted =
      Person(PS::kDeleted, false, "984661185");
  static const adapters::OrganisationContact inbox =
      Org(OS::kActive, true, true);
  static const adapters::OrganisationContact no_inbox =
      Org(OS::kActive, false, true);
  static const adapters::OrganisationContact org_unregistered =
      Org(OS::kNotRegistered, false, false);
  RoutingInput in;
  in.mode = mode;
  in.has_postal_address = address;
  if (kind == "digipost") in.person = &digipost;
  if (kind == "eboks") in.person = &eboks;
  if (kind == "unknown-provider") in.person = &unknown_provider;
  if (kind == "reserved") in.person = &reserved;
  if (kind == "no-mailbox") in.person = &no_mailbox;
  if (kind == "unregistered") in.person = &unregistered;
  if (kind == "no-answer") in.person = nullptr;
  if (kind == "deleted") in.person = &deleted;
  if (kind.rfind("org", 0) == 0) in.organisation = true;
  if (kind == "org-inbox") in.org = &inbox;
  if (kind == "org-no-inbox") in.org = &no_inbox;
  if (kind == "org-unregistered") in.org = &org_unregistered;
  // "org-no-registry": in.org stays null.
  return DecideRoute(in, RoutingOptions());
}

TEST_P(RoutingTableTest, ChoosesChannelOrFails) {
  const Row& row = GetParam();
  RoutingDecision d = Decide(row.kind, row.mode);
  EXPECT_EQ(d.channel, row.channel) << row.kind << " " << row.mode;
  EXPECT_EQ(d.failed(), row.channel.empty());
  EXPECT_THAT(d.reason, HasSubstr(row.reason_part));
}

constexpr auto kDtp = Mode::DIGITAL_THEN_PRINT;
constexpr auto kDo = Mode::DIGITAL_ONLY;
constexpr auto kPo = Mode::PRINT_ONLY;

INSTANTIATE_TEST_SUITE_P(
    EveryKindAndPolicy, RoutingTableTest,
    ::testing::Values(
        Row{"digipost", kDtp, "digital", "984661185"},
        Row{"digipost", kDo, "digital", "984661185"},
        Row{"digipost", kPo, "print", "PRINT_ONLY"},
        Row{"digipost", Mode::MODE_UNSPECIFIED, "digital", "984661185"},
        Row{"eboks", kDtp, "dpi", "922020175"}, Row{"eboks", kDo, "dpi", "DPI"},
        Row{"eboks", kPo, "print", "PRINT_ONLY"},
        Row{"unknown-provider", kDtp, "print", "not reachable"},
        Row{"unknown-provider", kDo, "", "not reachable"},
        Row{"reserved", kDtp, "print", "reserved"},
        Row{"reserved", kDo, "", "DIGITAL_ONLY, but reserved"},
        Row{"reserved", kPo, "print", "PRINT_ONLY"},
        Row{"no-mailbox", kDtp, "print", "no digital mailbox"},
        Row{"no-mailbox", kDo, "", "no digital mailbox"},
        Row{"no-mailbox", kPo, "print", "PRINT_ONLY"},
        Row{"unregistered", kDtp, "print", "not registered"},
        Row{"unregistered", kDo, "", "not registered"},
        Row{"unregistered", kPo, "print", "PRINT_ONLY"},
        Row{"no-answer", kDtp, "print", "not registered"},
        Row{"deleted", kDtp, "print", "deleted"},
        Row{"deleted", kDo, "", "deleted"},
        Row{"org-inbox", kDtp, "altinn", "inbox"},
        Row{"org-inbox", kDo, "altinn", "inbox"},
        Row{"org-inbox", kPo, "print", "PRINT_ONLY"},
        Row{"org-no-inbox", kDtp, "print", "no digital inbox"},
        Row{"org-no-inbox", kDo, "", "no digital inbox"},
        Row{"org-no-inbox", kPo, "print", "PRINT_ONLY"},
        Row{"org-unregistered", kDtp, "print", "not registered"},
        Row{"org-unregistered", kDo, "", "not registered"},
        Row{"org-no-registry", kDtp, "print", "no organisation registry"},
        Row{"org-no-registry", kDo, "", "no organisation registry"}));

TEST(RoutingTest, PrintWithoutAnyAddressFails) {
  RoutingDecision d = Decide("reserved", kDtp, /*address=*/false);
  EXPECT_TRUE(d.failed());
  EXPECT_THAT(d.reason, HasSubstr("postal_address"));
  d = Decide("digipost", kPo, /*address=*/false);
  EXPECT_TRUE(d.failed());
}

TEST(RoutingTest, DigitalNeedsNoAddress) {
  EXPECT_EQ(Decide("digipost", kDtp, /*address=*/false).channel, "digital");
}

TEST(RoutingTest, OrganisationPrintUsesTheRegistryAddress) {
  RoutingDecision d = Decide("org-no-inbox", kDtp, /*address=*/false);
  EXPECT_EQ(d.channel, "print");
  EXPECT_TRUE(d.use_registry_address);
  d = Decide("org-unregistered", kDtp, /*address=*/false);
  EXPECT_TRUE(d.failed());
}

TEST(RoutingTest, ProviderListsAreConfigurable) {
  adapters::PersonContact p = Person(PS::kActive, false, "123456785");
  RoutingInput in;
  in.person = &p;
  in.has_postal_address = true;
  RoutingOptions o;
  EXPECT_EQ(DecideRoute(in, o).channel, "print");
  o.dpi_providers.push_back("123456785");
  EXPECT_EQ(DecideRoute(in, o).channel, "dpi");
}

}  // namespace
}  // namespace utpost::dispatch
