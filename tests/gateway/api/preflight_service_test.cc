#include "gateway/api/preflight_service.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/pdf_fixtures.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using ::utpost::testing::MakeTestPdf;
using ::utpost::testing::StatusIs;
using ::utpost::v1::DeliveryPolicy;
using ::utpost::v1::PreflightFailure;
using ::utpost::v1::PreflightLettersRequest;
using ::utpost::v1::PreflightLettersResponse;
using ::utpost::v1::SubmitLetterRequest;

constexpr char kDigipost[] = "01817010055";
constexpr char kEboks[] = "30925910089";
constexpr char kReserved[] = "02916510260";
constexpr char kNoMailbox[] = "12860150180";
constexpr char kInboxOrg[] = "910000004";
constexpr char kNoInboxOrg[] = "932000008";

// Answers from a fixed table; counts calls.
class FakeRegistry final : public adapters::Registry {
 public:
  absl::StatusOr<std::vector<adapters::PersonContact>> LookupPersons(
      const std::vector<std::string>& numbers) override {
    calls.push_back(numbers);
    if (!fail_with.ok()) return fail_with;
    std::vector<adapters::PersonContact> out;
    for (const auto& n : numbers) {
      adapters::PersonContact c;
      c.person_number = n;
      c.status = adapters::PersonContact::Status::kActive;
      if (n == kDigipost) {
        c.mailbox_address = "kari#1";
        c.mailbox_provider = "984661185";
      } else if (n == kEboks) {
        c.mailbox_address = "ola@eboks";
        c.mailbox_provider = "922020175";
      } else if (n == kReserved) {
        c.reserved = true;
      } else if (n != kNoMailbox) {
        c.status = adapters::PersonContact::Status::kNotRegistered;
      }
      out.push_back(c);
    }
    return out;
  }
  absl::Status fail_with = absl::OkStatus();
  std::vector<std::vector<std::string>> calls;
};

class FakeOrganisations final : public adapters::OrganisationRegistry {
 public:
  absl::StatusOr<adapters::OrganisationContact> LookupOrganisation(
      const std::string& number) override {
    calls.push_back(number);
    adapters::OrganisationContact c;
    c.organisation_number = number;
    if (number == kInboxOrg || number == kNoInboxOrg) {
      c.status = adapters::OrganisationContact::Status::kActive;
      c.name = "Testbedrift AS";
      c.postal_address.lines = {"Postboks 100 Sentrum"};
      c.postal_address.postal_code = "0101";
      c.postal_address.city = "OSLO";
      c.has_inbox = number == kInboxOrg;
    }
    return c;
  }
  std::vector<std::string> calls;
};

SubmitLetterRequest Letter(const std::string& ref, int pages = 1) {
  SubmitLetterRequest r;
  r.set_client_reference(ref);
  r.set_title("Eiendomsskatt 2027");
  auto* d = r.add_documents();
  d->set_file_name("skatteseddel.pdf");
  d->set_media_type("application/pdf");
  d->set_content(MakeTestPdf(pages));
  return r;
}

SubmitLetterRequest ToPerson(const std::string& ref, const std::string& person,
                             int pages = 1) {
  SubmitLetterRequest r = Letter(ref, pages);
  r.mutable_recipient()->set_person(person);
  auto* a = r.mutable_recipient()->mutable_postal_address();
  a->set_name("Kari Nordmann");
  a->add_address_lines("Storgata 1");
  a->set_postal_code("0155");
  a->set_city("OSLO");
  return r;
}

SubmitLetterRequest ToOrganisation(const std::string& ref,
                                   const std::string& org) {
  SubmitLetterRequest r = Letter(ref);
  r.mutable_recipient()->set_organisation(org);
  return r;
}

UnitPrices Prices() {
  UnitPrices p;
  p.configured = true;
  p.digital_per_letter = 50;
  p.dpi_per_letter = 60;
  p.altinn_per_letter = 70;
  p.print_per_letter = 300;
  p.print_per_sheet = 40;
  p.postage_b = 2100;
  p.postage_a = 2500;
  return p;
}

class PreflightServiceTest : public ::testing::Test {
 protected:
  PreflightOptions Options() {
    PreflightOptions o;
    o.configured_channels = {"digital", "dpi", "altinn", "print"};
    o.prices = Prices();
    return o;
  }
  std::unique_ptr<PreflightService> Make(PreflightOptions o) {
    return std::make_unique<PreflightService>(&registry_, &organisations_,
                                              std::move(o));
  }
  const v1::PreflightChannelTotal& Channel(const PreflightLettersResponse& r,
                                           const std::string& name) {
    for (const auto& c : r.totals().channels()) {
      if (c.channel() == name) return c;
    }
    ADD_FAILURE() << "no channel " << name;
    return r.totals().channels(0);
  }
  int Failures(const PreflightLettersResponse& r, PreflightFailure f) {
    for (const auto& t : r.totals().failures()) {
      if (t.failure() == f) return t.letters();
    }
    return 0;
  }

  FakeRegistry registry_;
  FakeOrganisations organisations_;
};

TEST_F(PreflightServiceTest, MixedBatchGivesChannelsFailuresSheetsAndCost) {
  PreflightLettersRequest request;
  *request.add_letters() = ToPerson("a", kDigipost);
  *request.add_letters() = ToPerson("b", kEboks);
  *request.add_letters() = ToPerson("c", kReserved, /*pages=*/3);
  *request.add_letters() = ToOrganisation("d", kInboxOrg);
  SubmitLetterRequest invalid = ToPerson("e", kDigipost);
  invalid.clear_title();
  *request.add_letters() = invalid;
  SubmitLetterRequest digital_only = ToPerson("f", kNoMailbox);
  digital_only.mutable_delivery_policy()->set_mode(
      DeliveryPolicy::DIGITAL_ONLY);
  *request.add_letters() = digital_only;

  auto service = Make(Options());
  auto r = service->Run("964338531", request);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->outcomes_size(), 6);
  EXPECT_EQ(r->outcomes(0).channel(), "digital");
  EXPECT_EQ(r->outcomes(1).channel(), "dpi");
  EXPECT_EQ(r->outcomes(2).channel(), "print");
  EXPECT_EQ(r->outcomes(2).reason(), "reserved against digital post");
  EXPECT_EQ(r->outcomes(2).sheets(), 3);
  EXPECT_EQ(r->outcomes(3).channel(), "altinn");
  EXPECT_EQ(r->outcomes(4).failure(), v1::INVALID_LETTER);
  EXPECT_THAT(r->outcomes(4).reason(), HasSubstr("title"));
  EXPECT_EQ(r->outcomes(4).client_reference(), "e");
  EXPECT_EQ(r->outcomes(5).failure(), v1::NO_DIGITAL_CHANNEL);
  EXPECT_THAT(r->outcomes(5).reason(), HasSubstr("DIGITAL_ONLY"));
  EXPECT_THAT(r->outcomes(5).reason(), Not(HasSubstr(kNoMailbox)));

  const auto& t = r->totals();
  EXPECT_EQ(t.letters(), 6);
  EXPECT_EQ(t.would_send(), 4);
  EXPECT_EQ(t.would_fail(), 2);
  EXPECT_EQ(Channel(*r, "digital").letters(), 1);
  EXPECT_EQ(Channel(*r, "dpi").letters(), 1);
  EXPECT_EQ(Channel(*r, "altinn").letters(), 1);
  EXPECT_EQ(Channel(*r, "print").letters(), 1);
  EXPECT_EQ(Channel(*r, "print").sheets(), 3);
  EXPECT_EQ(Channel(*r, "print").envelopes(), 1);
  EXPECT_EQ(Failures(*r, v1::INVALID_LETTER), 1);
  EXPECT_EQ(Failures(*r, v1::NO_DIGITAL_CHANNEL), 1);
  EXPECT_EQ(t.print_sheets(), 3);
  EXPECT_EQ(t.envelopes(), 1);
  const int64_t print = 300 + 3 * 40 + 2100;
  EXPECT_EQ(Channel(*r, "print").cost(), print);
  EXPECT_EQ(t.cost(), 50 + 60 + 70 + print);
  // Had all four gone to print: three one-sheet letters and the one of 3.
  EXPECT_EQ(t.cost_all_print(), 3 * (300 + 40 + 2100) + print);
  EXPECT_EQ(t.currency(), "NOK");
  EXPECT_TRUE(t.priced());
}

TEST_F(PreflightServiceTest, PersonsAreLookedUpTogetherOnce) {
  PreflightLettersRequest request;
  *request.add_letters() = ToPerson("a", kDigipost);
  *request.add_letters() = ToPerson("b", kEboks);
  *request.add_letters() = ToPerson("c", kDigipost);
  SubmitLetterRequest print_only = ToPerson("d", kReserved);
  print_only.mutable_delivery_policy()->set_mode(DeliveryPolicy::PRINT_ONLY);
  *request.add_letters() = print_only;
  *request.add_letters() = ToOrganisation("e", kInboxOrg);
  *request.add_letters() = ToOrganisation("f", kInboxOrg);
  auto r = Make(Options())->Run("964338531", request);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(registry_.calls.size(), 1u);
  EXPECT_THAT(registry_.calls[0], UnorderedElementsAre(kDigipost, kEboks));
  EXPECT_THAT(organisations_.calls, ElementsAre(kInboxOrg));
  EXPECT_EQ(r->outcomes(3).channel(), "print");
}

TEST_F(PreflightServiceTest, ChannelNotConfiguredWouldPark) {
  PreflightOptions o = Options();
  o.configured_channels.erase("dpi");
  PreflightLettersRequest request;
  *request.add_letters() = ToPerson("a", kEboks);
  auto r = Make(std::move(o))->Run("964338531", request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcomes(0).failure(), v1::CHANNEL_NOT_CONFIGURED);
  EXPECT_THAT(r->outcomes(0).reason(), HasSubstr("would be parked"));
  EXPECT_FALSE(Channel(*r, "dpi").configured());
  EXPECT_TRUE(Channel(*r, "digital").configured());
  EXPECT_EQ(r->totals().cost(), 0);
}

TEST_F(PreflightServiceTest, PausedChannelIsShown) {
  PreflightOptions o = Options();
  o.paused_channels = []() -> absl::StatusOr<std::set<std::string>> {
    return std::set<std::string>{"print"};
  };
  PreflightLettersRequest request;
  *request.add_letters() = ToPerson("a", kReserved);
  auto r = Make(std::move(o))->Run("964338531", request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcomes(0).channel(), "print");
  EXPECT_TRUE(r->outcomes(0).channel_paused());
  EXPECT_TRUE(Channel(*r, "print").paused());
  EXPECT_FALSE(Channel(*r, "digital").paused());
  EXPECT_EQ(r->totals().would_send(), 1);
}

TEST_F(PreflightServiceTest, SecondLetterWithTheSameReferenceFails) {
  PreflightLettersRequest request;
  *request.add_letters() = ToPerson("same", kDigipost);
  *request.add_letters() = ToPerson("same", kEboks);
  auto r = Make(Options())->Run("964338531", request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcomes(0).channel(), "digital");
  EXPECT_EQ(r->outcomes(1).failure(), v1::DUPLICATE_CLIENT_REFERENCE);
}

TEST_F(PreflightServiceTest, RegistryOutageIsAnOutcomeNotAnError) {
  registry_.fail_with = absl::UnavailableError("krr down");
  PreflightLettersRequest request;
  *request.add_letters() = ToPerson("a", kDigipost);
  *request.add_letters() = ToOrganisation("b", kInboxOrg);
  auto r = Make(Options())->Run("964338531", request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcomes(0).failure(), v1::REGISTRY_UNAVAILABLE);
  EXPECT_THAT(r->outcomes(0).reason(), HasSubstr("krr down"));
  EXPECT_EQ(r->outcomes(1).channel(), "altinn");
}

TEST_F(PreflightServiceTest, PrintWithoutAddressFails) {
  SubmitLetterRequest letter = Letter("a");
  letter.mutable_recipient()->set_person(kReserved);
  PreflightLettersRequest request;
  *request.add_letters() = letter;
  // An organisation without inbox prints to the registry's address.
  *request.add_letters() = ToOrganisation("b", kNoInboxOrg);
  auto r = Make(Options())->Run("964338531", request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcomes(0).failure(), v1::NO_POSTAL_ADDRESS);
  EXPECT_THAT(r->outcomes(0).reason(), HasSubstr("postal_address"));
  EXPECT_EQ(r->outcomes(1).channel(), "print");
}

TEST_F(PreflightServiceTest, SheetsCountDuplexCoverPageAndAPost) {
  PreflightOptions o = Options();
  o.limits.print_cover_page = true;
  SubmitLetterRequest letter = ToPerson("a", kReserved, /*pages=*/5);
  letter.mutable_print_options()->set_duplex(true);
  letter.mutable_print_options()->set_post_type(v1::PrintOptions::A);
  PreflightLettersRequest request;
  *request.add_letters() = letter;
  auto r = Make(std::move(o))->Run("964338531", request);
  ASSERT_TRUE(r.ok()) << r.status();
  // Five pages on both sides: three sheets, and the cover page.
  EXPECT_EQ(r->outcomes(0).sheets(), 4);
  EXPECT_EQ(r->outcomes(0).cost(), 300 + 4 * 40 + 2500);
}

TEST_F(PreflightServiceTest, UnpricedGatewayCountsNoCost) {
  PreflightOptions o = Options();
  o.prices = UnitPrices();
  PreflightLettersRequest request;
  *request.add_letters() = ToPerson("a", kReserved);
  auto r = Make(std::move(o))->Run("964338531", request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->totals().priced());
  EXPECT_EQ(r->totals().cost(), 0);
  EXPECT_EQ(r->totals().print_sheets(), 1);
}

TEST_F(PreflightServiceTest, RequestSizeIsBounded) {
  PreflightOptions o = Options();
  o.max_letters = 2;
  auto service = Make(std::move(o));
  PreflightLettersRequest request;
  EXPECT_THAT(
      service->Run("964338531", request).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least")));
  for (int i = 0; i < 3; ++i) {
    *request.add_letters() = ToPerson(std::to_string(i), kDigipost);
  }
  EXPECT_THAT(
      service->Run("964338531", request).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 2")));
  EXPECT_TRUE(registry_.calls.empty());
}

TEST_F(PreflightServiceTest, RunAsyncAnswersOnItsOwnThread) {
  auto service = Make(Options());
  PreflightLettersRequest request;
  *request.add_letters() = ToPerson("a", kDigipost);
  PreflightLettersResponse response;
  absl::Mutex mu;
  bool done = false;
  absl::Status status = absl::UnknownError("not called");
  service->RunAsync("964338531", &request, &response, [&](absl::Status s) {
    absl::MutexLock lock(&mu);
    status = s;
    done = true;
  });
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(&done));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(response.outcomes(0).channel(), "digital");
}

}  // namespace
}  // namespace utpost::api
