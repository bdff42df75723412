// The Store's operations methods (#5) on every engine: counts for the
// status page, outbox lag, listing across tenants, failed attempts, paused
// channels and provider figures.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/store_engines.h"

namespace utpost::store {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Letter;

const int64_t kStart = RealClock()->NowMillis() / 1000 * 1000;
constexpr char kTenantA[] = "964338531";
constexpr char kTenantB[] = "958935420";

class OpsStoreTest : public ::utpost::testing::StoreEngineTest {
 protected:
  OpsStoreTest() { store_clock_ = &clock_; }

  void Create(const std::string& id, const std::string& tenant,
              bool a_post = false, int print_sheets = 0) {
    NewLetter l;
    l.id = id;
    l.tenant = tenant;
    l.print_sheets = print_sheets;
    l.client_reference = "ref-" + id;
    l.request_digest = Sha256Hex(id);
    l.spec.set_client_reference(l.client_reference);
    l.spec.mutable_recipient()->set_person("01017012345");
    if (a_post) {
      l.spec.mutable_print_options()->set_post_type(
          ::utpost::v1::PrintOptions::A);
    }
    l.first_work.exchange = "utpost.work";
    l.first_work.routing_key = "route";
    l.first_work.body = "route:" + id;
    l.first_work.state_when_sent = Letter::QUEUED;
    std::vector<NewLetter> v;
    v.push_back(std::move(l));
    auto r = store_->CreateLetters(std::move(v));
    ASSERT_THAT(r, IsOk());
    ASSERT_THAT((*r)[0], IsOk());
  }

  void Move(const std::string& id, State from, State to,
            const std::string& channel = "", const std::string& reason = "") {
    Transition t;
    t.from = {from};
    t.to = to;
    t.channel = channel;
    t.reason = reason;
    ASSERT_THAT(store_->ApplyTransition(id, t), IsOk());
  }

  OutboxMessage Retry(const std::string& stage) {
    OutboxMessage m;
    m.exchange = "utpost.retry.1s";
    m.routing_key = stage;
    m.body = "retry";
    return m;
  }

  FakeClock clock_{kStart};
};

TEST_P(OpsStoreTest, CountsLettersByTenantChannelAndStateWithOldest) {
  Create("A1", kTenantA);
  clock_.Advance(1000);
  Create("A2", kTenantA);
  Create("B1", kTenantB);
  Move("A2", Letter::RECEIVED, Letter::QUEUED);
  Move("A2", Letter::QUEUED, Letter::ROUTED, "print");

  auto groups = store_->CountLetterGroups();
  ASSERT_THAT(groups, IsOk());
  ASSERT_THAT(*groups, SizeIs(3));
  const LetterGroupCount& a_received = (*groups)[0];
  EXPECT_EQ(a_received.tenant, kTenantB);  // Ordered by tenant.
  EXPECT_EQ((*groups)[1].tenant, kTenantA);
  EXPECT_EQ((*groups)[1].channel, "");
  EXPECT_EQ((*groups)[1].state, Letter::RECEIVED);
  EXPECT_EQ((*groups)[1].count, 1);
  EXPECT_EQ((*groups)[1].oldest_update_time_ms, kStart);
  EXPECT_EQ((*groups)[2].channel, "print");
  EXPECT_EQ((*groups)[2].state, Letter::ROUTED);
  EXPECT_EQ((*groups)[2].oldest_update_time_ms, kStart + 1000);
}

TEST_P(OpsStoreTest, OutboxLagIsThePendingCountAndTheOldestRow) {
  auto none = store_->GetOutboxLag();
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->pending, 0);
  EXPECT_EQ(none->oldest_pending_ms, 0);

  Create("L1", kTenantA);
  clock_.Advance(5000);
  Create("L2", kTenantA);
  auto lag = store_->GetOutboxLag();
  ASSERT_THAT(lag, IsOk());
  EXPECT_EQ(lag->pending, 2);
  EXPECT_EQ(lag->oldest_pending_ms, kStart);

  auto pending = store_->PendingOutbox(10);
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(store_->MarkOutboxSent({(*pending)[0].id}), IsOk());
  lag = store_->GetOutboxLag();
  ASSERT_THAT(lag, IsOk());
  EXPECT_EQ(lag->pending, 1);
  EXPECT_EQ(lag->oldest_pending_ms, kStart + 5000);
}

TEST_P(OpsStoreTest, ListsAcrossTenantsWithFilters) {
  Create("A1", kTenantA);
  clock_.Advance(1000);
  Create("B1", kTenantB);
  clock_.Advance(1000);
  Create("A2", kTenantA);
  Move("A2", Letter::RECEIVED, Letter::QUEUED);
  Move("A2", Letter::QUEUED, Letter::ROUTED, "print", "reserved");
  Move("A2", Letter::ROUTED, Letter::PARKED, "",
       "deliver.print failed 6 times; last: 503");

  auto ids = [this](const OpsListFilter& f) {
    std::vector<std::string> out;
    auto page = store_->ListLettersForOps(f);
    EXPECT_THAT(page, IsOk());
    if (page.ok()) {
      for (const auto& l : page->letters) out.push_back(l.id);
    }
    return out;
  };
  OpsListFilter all;
  EXPECT_THAT(ids(all), ElementsAre("A2", "B1", "A1"));
  OpsListFilter by_tenant;
  by_tenant.tenant = kTenantA;
  EXPECT_THAT(ids(by_tenant), ElementsAre("A2", "A1"));
  OpsListFilter by_channel;
  by_channel.channel = "print";
  EXPECT_THAT(ids(by_channel), ElementsAre("A2"));
  OpsListFilter parked;
  parked.state = Letter::PARKED;
  parked.reason_contains = "503";
  EXPECT_THAT(ids(parked), ElementsAre("A2"));
  parked.reason_contains = "404";
  EXPECT_THAT(ids(parked), ElementsAre());
  OpsListFilter window;
  window.created_after_ms = kStart;
  window.created_before_ms = kStart + 2000;
  EXPECT_THAT(ids(window), ElementsAre("B1"));
  OpsListFilter by_ref;
  by_ref.client_reference = "ref-B1";
  EXPECT_THAT(ids(by_ref), ElementsAre("B1"));
  OpsListFilter by_prefix;
  by_prefix.id_prefix = "A";
  EXPECT_THAT(ids(by_prefix), ElementsAre("A2", "A1"));
  by_prefix.id_prefix = "A1";
  EXPECT_THAT(ids(by_prefix), ElementsAre("A1"));
  by_prefix.id_prefix = "C";
  EXPECT_THAT(ids(by_prefix), ElementsAre());

  OpsListFilter paged;
  paged.page_size = 2;
  auto first = store_->ListLettersForOps(paged);
  ASSERT_THAT(first, IsOk());
  ASSERT_FALSE(first->next_page_token.empty());
  paged.page_token = first->next_page_token;
  EXPECT_THAT(ids(paged), ElementsAre("A1"));
  paged.page_token = "garbage";
  EXPECT_THAT(store_->ListLettersForOps(paged),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST_P(OpsStoreTest, RetriesAndParkingAreRecordedAsFailedAttempts) {
  Create("L1", kTenantA);
  Move("L1", Letter::RECEIVED, Letter::QUEUED);
  ASSERT_THAT(store_->ScheduleRetry("L1", {Letter::QUEUED}, 1, "registry: 503",
                                    Retry("route")),
              IsOk());
  Move("L1", Letter::QUEUED, Letter::ROUTED, "print");
  clock_.Advance(1000);
  ASSERT_THAT(store_->ScheduleRetry("L1", {Letter::ROUTED}, 1, "print: 503",
                                    Retry("deliver.print")),
              IsOk());
  // A redelivered item's repeat changes nothing, and records nothing.
  EXPECT_THAT(store_->ScheduleRetry("L1", {Letter::ROUTED}, 1, "print: 503",
                                    Retry("deliver.print")),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  clock_.Advance(1000);
  Move("L1", Letter::ROUTED, Letter::PARKED, "",
       "deliver.print failed 2 times; last: print: 500");

  auto attempts = store_->GetFailedAttempts("L1");
  ASSERT_THAT(attempts, IsOk());
  ASSERT_THAT(*attempts, SizeIs(3));
  EXPECT_EQ((*attempts)[0].stage, "route");
  EXPECT_EQ((*attempts)[0].attempt, 1);
  EXPECT_EQ((*attempts)[0].error, "registry: 503");
  EXPECT_FALSE((*attempts)[0].parked);
  EXPECT_EQ((*attempts)[1].stage, "deliver.print");
  EXPECT_EQ((*attempts)[1].attempt, 1);
  EXPECT_EQ((*attempts)[1].time_ms, kStart + 1000);
  EXPECT_EQ((*attempts)[2].stage, "deliver.print");
  EXPECT_EQ((*attempts)[2].attempt, 2);
  EXPECT_TRUE((*attempts)[2].parked);
  EXPECT_THAT((*attempts)[2].error, HasSubstr("print: 500"));

  EXPECT_THAT(store_->GetFailedAttempts("nope"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST_P(OpsStoreTest, AParkingRefusedByStateRecordsNothing) {
  Create("L1", kTenantA);
  Transition t;
  t.from = {Letter::ROUTED};
  t.to = Letter::PARKED;
  t.reason = "x";
  EXPECT_THAT(store_->ApplyTransition("L1", t),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  auto attempts = store_->GetFailedAttempts("L1");
  ASSERT_THAT(attempts, IsOk());
  EXPECT_THAT(*attempts, SizeIs(0));
}

TEST_P(OpsStoreTest, PausedChannelsKeepTheFirstPauseAndResume) {
  ASSERT_THAT(store_->SetChannelPaused("print", true, "alice"), IsOk());
  clock_.Advance(1000);
  ASSERT_THAT(store_->SetChannelPaused("print", true, "bob"), IsOk());
  auto paused = store_->PausedChannels();
  ASSERT_THAT(paused, IsOk());
  ASSERT_THAT(*paused, SizeIs(1));
  EXPECT_EQ((*paused)[0].channel, "print");
  EXPECT_EQ((*paused)[0].paused_by, "alice");
  EXPECT_EQ((*paused)[0].since_ms, kStart);

  ASSERT_THAT(store_->SetChannelPaused("print", false, "bob"), IsOk());
  ASSERT_THAT(store_->SetChannelPaused("print", false, "bob"), IsOk());
  paused = store_->PausedChannels();
  ASSERT_THAT(paused, IsOk());
  EXPECT_THAT(*paused, SizeIs(0));
  EXPECT_THAT(store_->SetChannelPaused("", true, "bob"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST_P(OpsStoreTest, ProviderFiguresAreReadByWindowAndForgottenAfterAnHour) {
  ProviderStatsRecord old;
  old.process_id = "w1:1";
  old.channel = "print";
  old.window_start_ms = kStart - 10000;
  old.window_end_ms = kStart - 5000;
  old.sends = 4;
  old.errors = 1;
  old.latency_sum_us = 4000;
  old.latency_max_us = 2000;
  old.last_error = "UNAVAILABLE: 503";
  ProviderStatsRecord recent = old;
  recent.process_id = "w2:2";
  recent.window_start_ms = kStart - 5000;
  recent.window_end_ms = kStart;
  ASSERT_THAT(store_->WriteProviderStats({old, recent}), IsOk());

  auto rows = store_->ProviderStatsSince(kStart - 6000);
  ASSERT_THAT(rows, IsOk());
  EXPECT_THAT(*rows, SizeIs(2));
  rows = store_->ProviderStatsSince(kStart - 5000);
  ASSERT_THAT(rows, IsOk());
  ASSERT_THAT(*rows, SizeIs(1));
  EXPECT_EQ((*rows)[0].process_id, "w2:2");
  EXPECT_EQ((*rows)[0].sends, 4);
  EXPECT_EQ((*rows)[0].latency_max_us, 2000);
  EXPECT_EQ((*rows)[0].last_error, "UNAVAILABLE: 503");

  // The next flush, over an hour later, drops both.
  clock_.Advance(2 * 3600 * 1000);
  ASSERT_THAT(store_->WriteProviderStats({}), IsOk());
  rows = store_->ProviderStatsSince(0);
  ASSERT_THAT(rows, IsOk());
  EXPECT_THAT(*rows, SizeIs(0));
}

TEST_P(OpsStoreTest, LetterStatisticsGivesEachLettersOutcomeInThePeriod) {
  // Digital, delivered after 2 s, read; 2 sheets had it been printed.
  Create("A1", kTenantA, /*a_post=*/false, /*print_sheets=*/2);
  Move("A1", Letter::RECEIVED, Letter::QUEUED);
  Move("A1", Letter::QUEUED, Letter::ROUTED, "digital");
  Move("A1", Letter::ROUTED, Letter::SENT_DIGITAL);
  clock_.Advance(2000);
  Move("A1", Letter::SENT_DIGITAL, Letter::DELIVERED);
  Move("A1", Letter::DELIVERED, Letter::READ);
  clock_.Advance(1000);
  // Print after 5 s, returned; 7 sheets.
  Create("A2", kTenantA, /*a_post=*/true, /*print_sheets=*/7);
  Move("A2", Letter::RECEIVED, Letter::QUEUED);
  Move("A2", Letter::QUEUED, Letter::ROUTED, "print");
  clock_.Advance(5000);
  Move("A2", Letter::ROUTED, Letter::SENT_PRINT);
  Move("A2", Letter::SENT_PRINT, Letter::PRINTED);
  ProviderEventRecord returned;
  returned.provider = "print";
  returned.event_id = "ev-1";
  returned.letter_id = "A2";
  returned.channel = "print";
  returned.kind = "RETURNED";
  returned.time_ms = clock_.NowMillis();
  returned.evidence = "{}";
  ASSERT_THAT(store_->ApplyProviderEvent(returned, {}), IsOk());
  Create("B1", kTenantB);  // Never routed; sheets not counted.
  clock_.Advance(1000);
  Create("A3", kTenantA);  // After the period.

  StatsQuery q;
  q.from_ms = kStart;
  q.to_ms = kStart + 9000;
  auto all = store_->LetterStatistics(q);
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(*all, SizeIs(3));
  const LetterFacts& a1 = (*all)[1];
  EXPECT_EQ((*all)[0].id, "B1");  // By tenant first.
  EXPECT_EQ((*all)[0].channel, "");
  EXPECT_EQ((*all)[0].state, Letter::RECEIVED);
  EXPECT_EQ((*all)[0].delivered_ms, 0);
  EXPECT_EQ((*all)[0].print_sheets, 0);
  EXPECT_EQ(a1.id, "A1");
  EXPECT_EQ(a1.tenant, kTenantA);
  EXPECT_EQ(a1.create_time_ms, kStart);
  EXPECT_EQ(a1.state, Letter::READ);
  EXPECT_EQ(a1.channel, "digital");
  EXPECT_TRUE(a1.read);
  EXPECT_EQ(a1.delivered_ms, kStart + 2000);
  EXPECT_FALSE(a1.returned);
  EXPECT_EQ(a1.print_sheets, 2);
  const LetterFacts& a2 = (*all)[2];
  EXPECT_EQ(a2.id, "A2");
  EXPECT_EQ(a2.state, Letter::PRINTED);
  EXPECT_EQ(a2.channel, "print");
  EXPECT_FALSE(a2.read);
  EXPECT_EQ(a2.delivered_ms, kStart + 8000);
  EXPECT_TRUE(a2.returned);
  EXPECT_TRUE(a2.a_post);
  EXPECT_EQ(a2.print_sheets, 7);
  EXPECT_FALSE(a1.a_post);

  q.tenant = kTenantA;
  q.from_ms = kStart + 1;  // A1 is before it.
  q.to_ms = kStart + 10000;
  auto mine = store_->LetterStatistics(q);
  ASSERT_THAT(mine, IsOk());
  ASSERT_THAT(*mine, SizeIs(2));
  EXPECT_EQ((*mine)[0].id, "A2");
  EXPECT_EQ((*mine)[1].id, "A3");

  q.to_ms = q.from_ms;
  EXPECT_THAT(store_->LetterStatistics(q),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
}

INSTANTIATE_TEST_SUITE_P(
    Engines, OpsStoreTest,
    ::testing::ValuesIn(::utpost::testing::AllStoreEngines()),
    ::utpost::testing::StoreEngineName);

}  // namespace
}  // namespace utpost::store
