// Statistics (#14): the period a caller asks for, the figures per tenant and
// Europe/Oslo month, and who may see whose (StatsService without gRPC, over
// a store on the memory engine).
#include "gateway/api/statistics.h"

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gateway/api/stats_service.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/memory_engine.h"
#include "gateway/store/store_impl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::api {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Letter;

constexpr char kTenantA[] = "964338531";
constexpr char kTenantB[] = "958935420";

absl::TimeZone Oslo() {
  absl::TimeZone z;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/Oslo", &z));
  return z;
}

int64_t OsloMs(int y, int m, int d, int hh = 0, int mm = 0) {
  return absl::ToUnixMillis(
      absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), Oslo()));
}

const absl::Time kNow = absl::FromUnixSeconds(1780000000);  // 2026-05-28.

TEST(StatsPeriodTest, AYearAMonthAndRangesAreOsloDays) {
  auto year = ParseStatsPeriod("2026", kNow, Oslo());
  ASSERT_THAT(year, IsOk());
  EXPECT_EQ(year->from, absl::CivilDay(2026, 1, 1));
  EXPECT_EQ(year->to, absl::CivilDay(2027, 1, 1));
  // Midnight in Oslo is 23:00 UTC the day before in winter.
  EXPECT_EQ(year->from_ms(), 1767222000000);

  auto month = ParseStatsPeriod("2026-12", kNow, Oslo());
  ASSERT_THAT(month, IsOk());
  EXPECT_EQ(month->from, absl::CivilDay(2026, 12, 1));
  EXPECT_EQ(month->to, absl::CivilDay(2027, 1, 1));

  auto days = ParseStatsPeriod("2026-03-15..2026-04-02", kNow, Oslo());
  ASSERT_THAT(days, IsOk());
  EXPECT_EQ(days->to, absl::CivilDay(2026, 4, 2));
  auto months = ParseStatsPeriod("2026-01..2026-04", kNow, Oslo());
  ASSERT_THAT(months, IsOk());
  EXPECT_EQ(months->to, absl::CivilDay(2026, 4, 1));

  auto current = ParseStatsPeriod("", kNow, Oslo());
  ASSERT_THAT(current, IsOk());
  EXPECT_EQ(current->from, absl::CivilDay(2026, 1, 1));
}

TEST(StatsPeriodTest, RefusesWhatIsNotAPeriod) {
  for (const char* bad :
       {"26", "2026-3", "2026-13", "2026-02-30", "1999", "2026..2027",
        "2026-04..2026-04", "2026-05-01..2026-04-01", "x2026", "2026-01-01..",
        "2000-01..2020-01", "2026-01-01T00"}) {
    EXPECT_THAT(ParseStatsPeriod(bad, kNow, Oslo()),
                StatusIs(absl::StatusCode::kInvalidArgument, _))
        << bad;
  }
}

store::LetterFacts Fact(const std::string& tenant, const std::string& id,
                        int64_t created, Letter::State state,
                        const std::string& channel) {
  store::LetterFacts f;
  f.tenant = tenant;
  f.id = id;
  f.create_time_ms = created;
  f.state = state;
  f.channel = channel;
  return f;
}

UnitPrices Prices() {
  UnitPrices p;
  p.configured = true;
  p.digital_per_letter = 100;
  p.dpi_per_letter = 150;
  p.altinn_per_letter = 50;
  p.print_per_letter = 500;
  p.print_per_sheet = 30;
  p.postage_b = 1500;
  p.postage_a = 2500;
  return p;
}

TEST(SummariseStatisticsTest, CountsPerTenantAndOsloMonth) {
  StatsInput in;
  in.period = *ParseStatsPeriod("2026-01..2026-04", kNow, Oslo());
  in.prices = Prices();
  in.tenants = {kTenantA, kTenantB};
  in.tenant_names = {{kTenantA, "Eksempel kommune"}};
  std::vector<store::LetterFacts> facts;
  // 31 January 23:30 in Oslo is 22:30 UTC: still January.
  facts.push_back(Fact(kTenantA, "1", OsloMs(2026, 1, 31, 23, 30), Letter::READ,
                       "digital"));
  facts.back().read = true;
  facts.back().delivered_ms = facts.back().create_time_ms + 4000;
  facts.back().print_sheets = 2;
  // 1 February 00:10 in Oslo is 31 January UTC: February.
  facts.push_back(
      Fact(kTenantA, "2", OsloMs(2026, 2, 1, 0, 10), Letter::DELIVERED, "dpi"));
  facts.back().delivered_ms = facts.back().create_time_ms + 1000;
  // Stored before sheets were counted: print_sheets 0.
  facts.push_back(
      Fact(kTenantA, "3", OsloMs(2026, 2, 3), Letter::PRINTED, "print"));
  facts.back().delivered_ms = facts.back().create_time_ms + 9000;
  facts.back().returned = true;
  facts.back().a_post = true;
  facts.back().print_sheets = 3;
  facts.push_back(Fact(kTenantA, "4", OsloMs(2026, 2, 4), Letter::FAILED, ""));
  facts.push_back(Fact(kTenantA, "5", OsloMs(2026, 2, 5), Letter::QUEUED, ""));

  const v1::Statistics s = SummariseStatistics(in, facts);
  EXPECT_EQ(s.from_date(), "2026-01-01");
  EXPECT_EQ(s.to_date(), "2026-04-01");
  EXPECT_EQ(s.time_zone(), "Europe/Oslo");
  EXPECT_TRUE(s.priced());
  ASSERT_THAT(s.tenants(), SizeIs(2));
  // By organisation number; B has no letters but is listed, with zeros.
  const v1::TenantStatistics& b = s.tenants(0);
  EXPECT_EQ(b.tenant(), kTenantB);
  EXPECT_EQ(b.name(), "");
  ASSERT_THAT(b.months(), SizeIs(3));
  EXPECT_EQ(b.total().letters(), 0);
  ASSERT_THAT(b.total().channels(), SizeIs(4));

  const v1::TenantStatistics& a = s.tenants(1);
  EXPECT_EQ(a.name(), "Eksempel kommune");
  ASSERT_THAT(a.months(), SizeIs(3));
  EXPECT_EQ(a.months(0).month(), "2026-01");
  EXPECT_EQ(a.months(0).letters(), 1);
  EXPECT_EQ(a.months(0).read(), 1);
  EXPECT_DOUBLE_EQ(a.months(0).read_rate(), 1.0);
  const v1::PeriodFigures& feb = a.months(1);
  EXPECT_EQ(feb.month(), "2026-02");
  EXPECT_EQ(feb.letters(), 4);
  EXPECT_EQ(feb.sent(), 2);
  EXPECT_EQ(feb.failed(), 1);
  EXPECT_EQ(feb.in_progress(), 1);
  EXPECT_EQ(feb.channels(1).channel(), "dpi");
  EXPECT_EQ(feb.channels(1).letters(), 1);
  EXPECT_DOUBLE_EQ(feb.channels(1).share(), 0.5);
  EXPECT_EQ(feb.channels(3).channel(), "print");
  EXPECT_EQ(feb.envelopes(), 1);
  EXPECT_EQ(feb.returned(), 1);
  EXPECT_EQ(feb.digitally_delivered(), 1);
  EXPECT_DOUBLE_EQ(feb.read_rate(), 0.0);
  EXPECT_EQ(feb.delivery_measured(), 2);
  EXPECT_EQ(feb.delivery_p50_ms(), 1000);
  EXPECT_EQ(feb.delivery_mean_ms(), 5000);
  EXPECT_EQ(feb.sheets(), 3);
  // The DPI letter has no count; the unsent ones are not asked about.
  EXPECT_EQ(feb.sheets_unknown(), 1);
  // The print letter goes A-post (2500) with its 3 sheets; the DPI one
  // would have gone B, without a sheet price as its sheets are unknown.
  EXPECT_EQ(feb.cost(), 150 + (500 + 3 * 30 + 2500));
  EXPECT_EQ(feb.cost_all_print(), (500 + 1500) + (500 + 3 * 30 + 2500));
  EXPECT_EQ(feb.cost_saved(), 2000 - 150);
  EXPECT_EQ(feb.channels(3).cost(), 500 + 3 * 30 + 2500);
  // The digital letter of 2 sheets, had it gone to print.
  EXPECT_EQ(a.months(0).sheets(), 0);
  EXPECT_EQ(a.months(0).sheets_unknown(), 0);
  EXPECT_EQ(a.months(0).cost_all_print(), 500 + 2 * 30 + 1500);
  EXPECT_EQ(a.months(2).letters(), 0);

  const v1::PeriodFigures& total = a.total();
  EXPECT_EQ(total.month(), "");
  EXPECT_EQ(total.letters(), 5);
  EXPECT_EQ(total.sent(), 3);
  EXPECT_EQ(total.digitally_delivered(), 2);
  EXPECT_DOUBLE_EQ(total.read_rate(), 0.5);
  EXPECT_EQ(total.delivery_p50_ms(), 4000);
  EXPECT_EQ(total.sheets(), 3);
  EXPECT_EQ(total.sheets_unknown(), 1);
  EXPECT_EQ(total.cost_saved(), (2060 - 100) + (2000 - 150));
}

TEST(SummariseStatisticsTest, UnpricedCostsAreZero) {
  StatsInput in;
  in.period = *ParseStatsPeriod("2026-02", kNow, Oslo());
  const v1::Statistics s = SummariseStatistics(
      in, {Fact(kTenantA, "1", OsloMs(2026, 2, 2), Letter::PRINTED, "print")});
  EXPECT_FALSE(s.priced());
  ASSERT_THAT(s.tenants(), SizeIs(1));
  EXPECT_EQ(s.tenants(0).total().sent(), 1);
  EXPECT_EQ(s.tenants(0).total().cost(), 0);
  EXPECT_EQ(s.tenants(0).total().cost_all_print(), 0);
}

class StatsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto signer = receipts::NewJwsReceiptSigner(
        {"certs-dev/receipts.key", "certs-dev/receipts.pem"});
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
    store::StoreOptions o;
    o.signer = signer_.get();
    o.clock = &clock_;
    auto s = store::OpenStore(store::NewMemoryEngine(), o);
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
    options_.access.tenants = {kTenantA, kTenantB};
    options_.access.operator_common_names = {"ops"};
    options_.tenant_names = {{kTenantA, "Eksempel kommune"},
                             {kTenantB, "Prøve kommune"}};
    options_.clock = &clock_;
  }

  void Create(const std::string& id, const std::string& tenant,
              int print_sheets = 0) {
    store::NewLetter l;
    l.id = id;
    l.tenant = tenant;
    l.print_sheets = print_sheets;
    l.client_reference = "ref-" + id;
    l.request_digest = Sha256Hex(id);
    l.spec.set_client_reference(l.client_reference);
    l.first_work.exchange = "utpost.work";
    l.first_work.routing_key = "route";
    l.first_work.body = id;
    std::vector<store::NewLetter> v;
    v.push_back(std::move(l));
    auto r = store_->CreateLetters(std::move(v));
    ASSERT_THAT(r, IsOk());
    ASSERT_THAT((*r)[0], IsOk());
  }

  absl::StatusOr<v1::Statistics> Get(const Caller& who,
                                     const std::string& tenant) {
    v1::GetStatisticsRequest r;
    r.set_tenant(tenant);
    r.set_period("2026-05");
    return GetStatisticsFor(store_.get(), options_, who, r);
  }

  FakeClock clock_{OsloMs(2026, 5, 10)};
  std::unique_ptr<receipts::ReceiptSigner> signer_;
  std::unique_ptr<store::Store> store_;
  StatsServiceOptions options_;
};

TEST_F(StatsServiceTest, ATenantSeesItsOwnAndAnOperatorEvery) {
  Create("a1", kTenantA);
  Create("a2", kTenantA);
  Create("b1", kTenantB);
  const Caller tenant_a{Caller::Kind::kTenant, kTenantA, "a"};
  const Caller op{Caller::Kind::kOperator, "", "ops"};

  auto own = Get(tenant_a, "");
  ASSERT_THAT(own, IsOk());
  ASSERT_THAT(own->tenants(), SizeIs(1));
  EXPECT_EQ(own->tenants(0).tenant(), kTenantA);
  EXPECT_EQ(own->tenants(0).name(), "Eksempel kommune");
  EXPECT_EQ(own->tenants(0).total().letters(), 2);
  EXPECT_EQ(own->tenants(0).total().in_progress(), 2);
  EXPECT_THAT(Get(tenant_a, kTenantA), IsOk());
  EXPECT_THAT(
      Get(tenant_a, kTenantB),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("only its own")));

  auto all = Get(op, "");
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(all->tenants(), SizeIs(2));
  EXPECT_EQ(all->tenants(0).name(), "Prøve kommune");
  EXPECT_EQ(all->tenants(0).total().letters(), 1);
  auto one = Get(op, kTenantB);
  ASSERT_THAT(one, IsOk());
  ASSERT_THAT(one->tenants(), SizeIs(1));
  EXPECT_EQ(one->tenants(0).tenant(), kTenantB);

  v1::GetStatisticsRequest bad;
  bad.set_period("2026-13");
  EXPECT_THAT(GetStatisticsFor(store_.get(), options_, op, bad),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST_F(StatsServiceTest, SheetsStoredAtSubmissionArePricedForPrint) {
  options_.prices.configured = true;
  options_.prices.print_per_letter = 500;
  options_.prices.print_per_sheet = 30;
  options_.prices.postage_b = 1500;
  Create("p1", kTenantA, /*print_sheets=*/4);
  Create("p2", kTenantA);  // No count.
  for (const char* id : {"p1", "p2"}) {
    store::Transition t;
    t.from = {Letter::RECEIVED};
    t.to = Letter::QUEUED;
    ASSERT_THAT(store_->ApplyTransition(id, t), IsOk());
    t.from = {Letter::QUEUED};
    t.to = Letter::ROUTED;
    t.channel = "print";
    ASSERT_THAT(store_->ApplyTransition(id, t), IsOk());
    t.from = {Letter::ROUTED};
    t.to = Letter::SENT_PRINT;
    ASSERT_THAT(store_->ApplyTransition(id, t), IsOk());
  }
  auto s = Get(Caller{Caller::Kind::kTenant, kTenantA, "a"}, "");
  ASSERT_THAT(s, IsOk());
  ASSERT_THAT(s->tenants(), SizeIs(1));
  const v1::PeriodFigures& t = s->tenants(0).total();
  EXPECT_EQ(t.envelopes(), 2);
  EXPECT_EQ(t.sheets(), 4);
  EXPECT_EQ(t.sheets_unknown(), 1);
  EXPECT_EQ(t.cost(), (500 + 4 * 30 + 1500) + (500 + 1500));
  EXPECT_EQ(t.cost_all_print(), t.cost());
}

}  // namespace
}  // namespace utpost::api
