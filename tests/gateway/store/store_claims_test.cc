// What the engine split added to the store contract, on every engine:
// outbox and timer claims with owners and leases (several relays and
// scanners on one database), and the receipt sequencer.
#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/store_engines.h"

namespace utpost::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAreArray;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::v1::Letter;

const int64_t kStart = RealClock()->NowMillis() / 1000 * 1000;
constexpr int64_t kLeaseMs = 30000;

class StoreClaimsTest : public ::utpost::testing::StoreEngineTest {
 protected:
  StoreClaimsTest() { store_clock_ = &clock_; }

  // A RECEIVED letter with its routing item in the outbox.
  void Create(const std::string& id) {
    NewLetter l;
    l.id = id;
    l.tenant = "964338531";
    l.client_reference = "ref-" + id;
    l.request_digest = "d-" + id;
    l.spec.mutable_recipient()->set_person("01017012345");
    l.documents.push_back({"a.pdf", "application/pdf", "%PDF-1.4", ""});
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

  std::vector<std::string> ClaimOutbox(const std::string& owner, int limit) {
    auto claimed = store_->ClaimOutbox(owner, limit, kLeaseMs);
    EXPECT_THAT(claimed, IsOk());
    std::vector<std::string> letters;
    if (claimed.ok()) {
      for (const OutboxMessage& m : *claimed) letters.push_back(m.letter_id);
    }
    return letters;
  }

  std::vector<std::string> ClaimTimers(const std::string& owner, int limit) {
    auto claimed =
        store_->ClaimDueTimers(owner, clock_.NowMillis(), limit, kLeaseMs);
    EXPECT_THAT(claimed, IsOk());
    std::vector<std::string> letters;
    if (claimed.ok()) {
      for (const TimerRecord& t : *claimed) letters.push_back(t.letter_id);
    }
    return letters;
  }

  FakeClock clock_{kStart};
};

TEST_P(StoreClaimsTest, TwoRelaysGetDisjointMessagesOldestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(absl::StrCat("L", i));
    Create(ids.back());
  }
  std::vector<std::string> a = ClaimOutbox("relay-a", 4);
  EXPECT_THAT(a, ElementsAre("L0", "L1", "L2", "L3"));
  std::vector<std::string> b = ClaimOutbox("relay-b", 10);
  EXPECT_THAT(b, ElementsAre("L4", "L5"));
  EXPECT_THAT(ClaimOutbox("relay-c", 10), IsEmpty());
  // Claims do not hide messages from the pending count or list.
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(6));
  EXPECT_THAT(store_->PendingOutbox(10), IsOkAndHolds(SizeIs(6)));
}

TEST_P(StoreClaimsTest, AnEndedLeaseHandsTheMessagesOutAgain) {
  Create("L1");
  Create("L2");
  EXPECT_THAT(ClaimOutbox("relay-a", 10), ElementsAre("L1", "L2"));
  clock_.Advance(kLeaseMs - 1);
  EXPECT_THAT(ClaimOutbox("relay-b", 10), IsEmpty());
  // relay-a died without confirming: its lease ends, relay-b takes over.
  clock_.Advance(1);
  EXPECT_THAT(ClaimOutbox("relay-b", 10), ElementsAre("L1", "L2"));
  EXPECT_THAT(ClaimOutbox("relay-a", 10), IsEmpty());
}

TEST_P(StoreClaimsTest, AnOwnerGetsItsOwnMessagesBackWithTheLeaseRenewed) {
  Create("L1");
  Create("L2");
  EXPECT_THAT(ClaimOutbox("relay-a", 10), ElementsAre("L1", "L2"));
  clock_.Advance(kLeaseMs - 1);
  EXPECT_THAT(ClaimOutbox("relay-a", 1), ElementsAre("L1"));
  // L1's lease now ends a whole lease later; L2's at the first deadline.
  clock_.Advance(1);
  EXPECT_THAT(ClaimOutbox("relay-b", 10), ElementsAre("L2"));
  clock_.Advance(kLeaseMs - 2);
  EXPECT_THAT(ClaimOutbox("relay-c", 10), IsEmpty());
  clock_.Advance(1);
  EXPECT_THAT(ClaimOutbox("relay-c", 10), ElementsAre("L1"));
}

TEST_P(StoreClaimsTest, MessagesMarkedSentNeverComeBack) {
  Create("L1");
  Create("L2");
  auto claimed = store_->ClaimOutbox("relay-a", 10, kLeaseMs);
  ASSERT_THAT(claimed, IsOk());
  ASSERT_THAT(*claimed, SizeIs(2));
  ASSERT_THAT(store_->MarkOutboxSent({(*claimed)[0].id}), IsOk());
  clock_.Advance(kLeaseMs * 10);
  EXPECT_THAT(ClaimOutbox("relay-b", 10), ElementsAre("L2"));
  ASSERT_THAT(store_->MarkOutboxSent({(*claimed)[1].id}), IsOk());
  clock_.Advance(kLeaseMs * 10);
  EXPECT_THAT(ClaimOutbox("relay-c", 10), IsEmpty());
  // The confirm moved both letters on, once.
  for (const char* id : {"L1", "L2"}) {
    auto l = store_->GetLetter(id, "");
    ASSERT_THAT(l, IsOk());
    EXPECT_EQ(l->state, Letter::QUEUED) << id;
    EXPECT_THAT(store_->GetReceipts(id, ""), IsOkAndHolds(SizeIs(2))) << id;
  }
}

TEST_P(StoreClaimsTest, ManyRelaysAtOncePublishEveryMessageOnce) {
  constexpr int kLetters = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < kLetters; ++i) {
    ids.push_back(absl::StrCat("L", i));
    Create(ids.back());
  }
  // Each relay claims, then confirms what it claimed, until nothing is left.
  std::vector<std::vector<std::string>> published(3);
  std::vector<std::thread> relays;
  for (int r = 0; r < 3; ++r) {
    relays.emplace_back([&, r] {
      const std::string owner = absl::StrCat("relay-", r);
      for (int round = 0; round < 100; ++round) {
        auto claimed = store_->ClaimOutbox(owner, 3, kLeaseMs);
        if (!claimed.ok()) {
          ADD_FAILURE() << claimed.status();
          return;
        }
        if (claimed->empty()) return;
        std::vector<int64_t> sent;
        for (const OutboxMessage& m : *claimed) {
          published[r].push_back(m.letter_id);
          sent.push_back(m.id);
        }
        EXPECT_THAT(store_->MarkOutboxSent(sent), IsOk());
      }
    });
  }
  for (auto& t : relays) t.join();
  std::vector<std::string> all;
  for (const auto& p : published) all.insert(all.end(), p.begin(), p.end());
  EXPECT_THAT(all, UnorderedElementsAreArray(ids));
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(0));
}

TEST_P(StoreClaimsTest, DueTimersAreSharedBetweenScannersUntilTheLeaseEnds) {
  for (const char* id : {"L1", "L2", "L3"}) Create(id);
  ASSERT_THAT(
      store_->SetTimer({"L2", "not_before", kStart + 100}, {Letter::RECEIVED}),
      IsOk());
  ASSERT_THAT(
      store_->SetTimer({"L1", "not_before", kStart + 200}, {Letter::RECEIVED}),
      IsOk());
  ASSERT_THAT(store_->SetTimer({"L3", "not_before", kStart + 5 * kLeaseMs},
                               {Letter::RECEIVED}),
              IsOk());
  EXPECT_THAT(ClaimTimers("scanner-a", 10), IsEmpty());
  clock_.Advance(200);
  // Earliest first; the one not due stays.
  EXPECT_THAT(ClaimTimers("scanner-a", 1), ElementsAre("L2"));
  EXPECT_THAT(ClaimTimers("scanner-b", 10), ElementsAre("L1"));
  EXPECT_THAT(ClaimTimers("scanner-c", 10), IsEmpty());
  // DueTimers still lists every due timer, claimed or not.
  EXPECT_THAT(store_->DueTimers(clock_.NowMillis(), 10),
              IsOkAndHolds(SizeIs(2)));
  // scanner-b fires its timer; scanner-a's lease runs out unused.
  ASSERT_THAT(store_->FireTimer({"L1", "not_before", kStart + 200},
                                {Letter::RECEIVED}, std::nullopt, {}),
              IsOkAndHolds(true));
  clock_.Advance(kLeaseMs);
  EXPECT_THAT(ClaimTimers("scanner-c", 10), ElementsAre("L2"));
  // A fired timer never comes back.
  clock_.Advance(kLeaseMs * 10);
  EXPECT_THAT(ClaimTimers("scanner-d", 10), ElementsAre("L2", "L3"));
}

TEST_P(StoreClaimsTest, SequencerAddsWhatTheTransactionsLeftOutside) {
  Create("L1");
  Create("L2");
  auto engine = home_->OpenEngine();
  ASSERT_THAT(engine, IsOk());
  const bool in_transaction = (*engine)->log_in_transaction();
  engine->reset();
  auto added = store_->SequenceReceipts();
  ASSERT_THAT(added, IsOk());
  if (in_transaction) {
    // Receipts became leaves as they committed: nothing is left to add.
    EXPECT_EQ(*added, 0);
  } else {
    EXPECT_EQ(*added, 2);
  }
  // Either way every receipt is a leaf now, in cursor order.
  EXPECT_THAT(store_->ReceiptLogSize(), IsOkAndHolds(2));
  auto first = store_->ReceiptAtLeaf(0);
  auto second = store_->ReceiptAtLeaf(1);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_LT(first->cursor, second->cursor);
  EXPECT_THAT(store_->SequenceReceipts(), IsOkAndHolds(0));
}

INSTANTIATE_TEST_SUITE_P(
    Engines, StoreClaimsTest,
    ::testing::ValuesIn(::utpost::testing::AllStoreEngines()),
    ::utpost::testing::StoreEngineName);

}  // namespace
}  // namespace utpost::store
