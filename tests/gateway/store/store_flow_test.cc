// The store's part of channels, timers and provider receipts (#3).
// Runs against every engine (tests/testing/store_engines.h).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/store_engines.h"

namespace utpost::store {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::v1::Letter;

const int64_t kStart = RealClock()->NowMillis() / 1000 * 1000;

class StoreFlowTest : public ::utpost::testing::StoreEngineTest {
 protected:
  StoreFlowTest() { store_clock_ = &clock_; }

  // A letter moved along `states` (from RECEIVED).
  std::string Letter(const std::string& id, std::vector<State> states) {
    NewLetter l;
    l.id = id;
    l.tenant = "964338531";
    l.client_reference = "ref-" + id;
    l.request_digest = "d-" + id;
    l.spec.mutable_recipient()->set_person("01817010055");
    l.documents.push_back({"a.pdf", "application/pdf", "%PDF-1.4", ""});
    l.first_work.exchange = "utpost.work";
    l.first_work.routing_key = "route";
    l.first_work.body = "route:" + id;
    auto r = store_->CreateLetters({l});
    EXPECT_THAT(r, IsOk());
    State at = ::utpost::v1::Letter::RECEIVED;
    for (State s : states) {
      Transition t;
      t.from = {at};
      t.to = s;
      if (s == ::utpost::v1::Letter::ROUTED) t.channel = "digital";
      EXPECT_THAT(store_->ApplyTransition(id, t), IsOk());
      at = s;
    }
    // Nothing left in the outbox.
    auto rows = store_->PendingOutbox(1000);
    EXPECT_THAT(rows, IsOk());
    std::vector<int64_t> ids;
    for (const auto& m : *rows) ids.push_back(m.id);
    EXPECT_THAT(store_->MarkOutboxSent(ids), IsOk());
    return id;
  }

  State StateOf(const std::string& id) {
    auto l = store_->GetLetter(id, "");
    EXPECT_THAT(l, IsOk());
    return l.ok() ? l->state : ::utpost::v1::Letter::STATE_UNSPECIFIED;
  }

  size_t ReceiptCount(const std::string& id) {
    auto r = store_->GetReceipts(id, "");
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->size() : 0;
  }

  static ProviderEventRecord Event(const std::string& id,
                                   const std::string& letter,
                                   const std::string& kind) {
    ProviderEventRecord e;
    e.provider = "984661185";
    e.event_id = id;
    e.letter_id = letter;
    e.channel = "digital";
    e.kind = kind;
    e.time_ms = kStart;
    e.evidence = "<event " + id + "/>";
    return e;
  }
  static Transition Move(std::vector<State> from, State to) {
    Transition t;
    t.from = std::move(from);
    t.to = to;
    t.provider = "984661185";
    return t;
  }

  FakeClock clock_{kStart};
};

constexpr State kQueued = ::utpost::v1::Letter::QUEUED;
constexpr State kRouted = ::utpost::v1::Letter::ROUTED;
constexpr State kSent = ::utpost::v1::Letter::SENT_DIGITAL;
constexpr State kDelivered = ::utpost::v1::Letter::DELIVERED;
constexpr State kRead = ::utpost::v1::Letter::READ;

TEST_P(StoreFlowTest, EventMovesLetterAndIsKeptOnce) {
  auto id = Letter("L1", {kQueued, kRouted, kSent});
  const size_t before = ReceiptCount(id);
  auto out = store_->ApplyProviderEvent(Event("e1", id, "DELIVERED"),
                                        {Move({kSent}, kDelivered)});
  ASSERT_THAT(out, IsOk());
  EXPECT_TRUE(out->moved);
  EXPECT_FALSE(out->duplicate);
  EXPECT_EQ(StateOf(id), kDelivered);
  EXPECT_EQ(ReceiptCount(id), before + 1);

  // The same event again: recognised, nothing written.
  out = store_->ApplyProviderEvent(Event("e1", id, "DELIVERED"),
                                   {Move({kSent}, kDelivered)});
  ASSERT_THAT(out, IsOk());
  EXPECT_TRUE(out->duplicate);
  EXPECT_FALSE(out->moved);
  EXPECT_EQ(ReceiptCount(id), before + 1);
  auto events = store_->GetProviderEvents(id);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_EQ((*events)[0].evidence, "<event e1/>");
  EXPECT_TRUE((*events)[0].applied);
}

TEST_P(StoreFlowTest, LateAndOutOfOrderEventsNeverMoveBackButAreKept) {
  auto id = Letter("L1", {kQueued, kRouted, kSent});
  // Read arrives before delivered.
  Transition via = Move({kSent}, kDelivered);
  via.then.push_back({kRead, "read"});
  auto out = store_->ApplyProviderEvent(Event("r1", id, "READ"),
                                        {via, Move({kDelivered}, kRead)});
  ASSERT_THAT(out, IsOk());
  EXPECT_TRUE(out->moved);
  EXPECT_EQ(StateOf(id), kRead);
  const size_t receipts = ReceiptCount(id);
  // Then the delivered event: kept, the letter stays READ.
  out = store_->ApplyProviderEvent(Event("d1", id, "DELIVERED"),
                                   {Move({kSent}, kDelivered)});
  ASSERT_THAT(out, IsOk());
  EXPECT_FALSE(out->moved);
  EXPECT_FALSE(out->duplicate);
  EXPECT_EQ(StateOf(id), kRead);
  EXPECT_EQ(ReceiptCount(id), receipts);
  auto events = store_->GetProviderEvents(id);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(2));
  EXPECT_EQ((*events)[1].kind, "DELIVERED");
  EXPECT_FALSE((*events)[1].applied);
}

TEST_P(StoreFlowTest, EventForUnknownLetterIsKept) {
  auto out = store_->ApplyProviderEvent(Event("x", "nobody", "READ"),
                                        {Move({kDelivered}, kRead)});
  ASSERT_THAT(out, IsOk());
  EXPECT_FALSE(out->moved);
  auto events = store_->GetProviderEvents("nobody");
  ASSERT_THAT(events, IsOk());
  EXPECT_THAT(*events, SizeIs(1));
}

TEST_P(StoreFlowTest, TimerWrittenWithTransitionFiresOnceAndSurvivesReopen) {
  auto id = Letter("L1", {kQueued, kRouted});
  Transition sent = Move({kRouted}, kSent);
  sent.set_timers.push_back({id, "print_if_unread", kStart + 1000});
  ASSERT_THAT(store_->ApplyTransition(id, sent), IsOk());
  auto due = store_->DueTimers(kStart + 999, 10);
  ASSERT_THAT(due, IsOk());
  EXPECT_THAT(*due, IsEmpty());

  Reopen();
  due = store_->DueTimers(kStart + 1000, 10);
  ASSERT_THAT(due, IsOk());
  ASSERT_THAT(*due, SizeIs(1));
  Transition to_print = Move({kSent, kDelivered}, kRouted);
  to_print.channel = "print";
  OutboxMessage work;
  work.exchange = "utpost.work";
  work.routing_key = "deliver.print";
  work.body = "print:" + id;
  to_print.outbox.push_back(work);
  auto fired = store_->FireTimer((*due)[0], {kSent, kDelivered}, to_print, {});
  ASSERT_THAT(fired, IsOk());
  EXPECT_TRUE(*fired);
  EXPECT_EQ(StateOf(id), kRouted);
  // A second scanner with the same row: already claimed.
  fired = store_->FireTimer((*due)[0], {kSent, kDelivered}, to_print, {});
  ASSERT_THAT(fired, IsOk());
  EXPECT_FALSE(*fired);
  auto rows = store_->PendingOutbox(10);
  ASSERT_THAT(rows, IsOk());
  ASSERT_THAT(*rows, SizeIs(1));
  EXPECT_EQ((*rows)[0].routing_key, "deliver.print");
  auto timers = store_->GetTimers(id);
  ASSERT_THAT(timers, IsOk());
  EXPECT_THAT(*timers, IsEmpty());
}

TEST_P(StoreFlowTest, TimerOfALetterThatMovedOnIsOnlyRemoved) {
  auto id = Letter("L1", {kQueued, kRouted, kSent, kDelivered, kRead});
  ASSERT_THAT(store_->SetTimer({id, "print_if_unread", kStart}, {kRead}),
              IsOk());
  auto fired =
      store_->FireTimer({id, "print_if_unread", kStart}, {kSent, kDelivered},
                        Move({kSent, kDelivered}, kRouted), {});
  ASSERT_THAT(fired, IsOk());
  EXPECT_TRUE(*fired);
  EXPECT_EQ(StateOf(id), kRead);
  auto rows = store_->PendingOutbox(10);
  ASSERT_THAT(rows, IsOk());
  EXPECT_THAT(*rows, IsEmpty());
}

TEST_P(StoreFlowTest, ClearedOrReplacedTimerIsNotFired) {
  auto id = Letter("L1", {kQueued, kRouted, kSent});
  ASSERT_THAT(store_->SetTimer({id, "print_if_unread", kStart}, {kSent}),
              IsOk());
  Transition read = Move({kSent}, kDelivered);
  read.then.push_back({kRead, "read"});
  read.clear_timers = {"print_if_unread"};
  ASSERT_THAT(store_->ApplyTransition(id, read), IsOk());
  auto due = store_->DueTimers(kStart + 1, 10);
  ASSERT_THAT(due, IsOk());
  EXPECT_THAT(*due, IsEmpty());

  auto id2 = Letter("L2", {kQueued});
  ASSERT_THAT(store_->SetTimer({id2, "not_before", kStart + 5}, {kQueued}),
              IsOk());
  ASSERT_THAT(store_->SetTimer({id2, "not_before", kStart + 50}, {kQueued}),
              IsOk());
  auto fired =
      store_->FireTimer({id2, "not_before", kStart + 5}, {kQueued}, {}, {});
  ASSERT_THAT(fired, IsOk());
  EXPECT_FALSE(*fired);
  EXPECT_FALSE(store_->SetTimer({id2, "x", 1}, {kSent}).ok());
}

TEST_P(StoreFlowTest, NotBeforeTimerWritesTheWorkWithoutStateChange) {
  auto id = Letter("L1", {kQueued});
  ASSERT_THAT(store_->SetTimer({id, "not_before", kStart + 10}, {kQueued}),
              IsOk());
  OutboxMessage work;
  work.exchange = "utpost.work";
  work.routing_key = "route";
  work.body = "route-again";
  auto fired = store_->FireTimer({id, "not_before", kStart + 10}, {kQueued},
                                 std::nullopt, {work});
  ASSERT_THAT(fired, IsOk());
  EXPECT_TRUE(*fired);
  EXPECT_EQ(StateOf(id), kQueued);
  auto rows = store_->PendingOutbox(10);
  ASSERT_THAT(rows, IsOk());
  ASSERT_THAT(*rows, SizeIs(1));
  EXPECT_EQ((*rows)[0].body, "route-again");
}

TEST_P(StoreFlowTest, StuckLettersAreFoundAndRequeuedOnce) {
  auto queued = Letter("L1", {kQueued});
  auto routed = Letter("L2", {kQueued, kRouted});
  auto held = Letter("L3", {kQueued});
  ASSERT_THAT(
      store_->SetTimer({held, "not_before", kStart + 999999}, {kQueued}),
      IsOk());
  auto sent = Letter("L4", {kQueued, kRouted, kSent});
  clock_.Advance(10000);
  auto stuck = store_->StuckLetters(kStart + 1, 10);
  ASSERT_THAT(stuck, IsOk());
  ASSERT_THAT(*stuck, SizeIs(2));
  EXPECT_EQ((*stuck)[0].state == kQueued ? (*stuck)[0].id : (*stuck)[1].id,
            queued);
  // Not stuck yet by a longer threshold.
  auto none = store_->StuckLetters(kStart - 1, 10);
  ASSERT_THAT(none, IsOk());
  EXPECT_THAT(*none, IsEmpty());

  OutboxMessage work;
  work.exchange = "utpost.work";
  work.routing_key = "route";
  work.body = "again";
  auto written = store_->RequeueStuck((*stuck)[0], work);
  ASSERT_THAT(written, IsOk());
  EXPECT_TRUE(*written);
  written = store_->RequeueStuck((*stuck)[0], work);
  ASSERT_THAT(written, IsOk());
  EXPECT_FALSE(*written);
  // With its work pending, it is no longer stuck.
  auto again = store_->StuckLetters(kStart + 20000, 10);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(*again, SizeIs(1));
  (void)routed;
  (void)sent;
}

INSTANTIATE_TEST_SUITE_P(
    Engines, StoreFlowTest,
    ::testing::ValuesIn(::utpost::testing::AllStoreEngines()),
    ::utpost::testing::StoreEngineName);

}  // namespace
}  // namespace utpost::store
