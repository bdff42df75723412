// The memory engine on its own, through the engine contract (engine.h):
// what the rules layer relies on from any engine. The store-level suite
// (store_conformance_test.cc and friends) runs it under the rules too.
#include "gateway/store/memory_engine.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::store {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Letter;

LetterRow Row(const std::string& id, const std::string& tenant,
              const std::string& ref, int64_t create_ms = 1000) {
  LetterRow row;
  row.record.id = id;
  row.record.tenant = tenant;
  row.record.client_reference = ref;
  row.record.state = Letter::RECEIVED;
  row.record.spec.set_title("Vedtak " + id);
  row.record.create_time_ms = create_ms;
  row.record.update_time_ms = create_ms;
  row.request_digest = "d-" + id;
  return row;
}

class MemoryEngineTest : public ::testing::Test {
 protected:
  // Runs `fn` as one op of its own and returns the op's status.
  absl::Status WriteOne(std::function<absl::Status(WriteTxn&)> fn) {
    std::vector<Engine::WriteOp> ops(1);
    ops[0].run = std::move(fn);
    absl::Status s = engine_->Write(&ops);
    if (!s.ok()) return s;
    return ops[0].status;
  }

  absl::Status Insert(const LetterRow& row) {
    return WriteOne([&](WriteTxn& t) {
      return t.InsertLetter(row, row.record.spec.SerializeAsString());
    });
  }

  int64_t AddOutbox(const std::string& letter_id, const std::string& body) {
    int64_t id = 0;
    OutboxMessage m;
    m.exchange = "utpost.work";
    m.routing_key = "route";
    m.body = body;
    EXPECT_THAT(WriteOne([&](WriteTxn& t) -> absl::Status {
                  auto r = t.InsertOutbox(letter_id, m, 5);
                  if (!r.ok()) return r.status();
                  id = *r;
                  return absl::OkStatus();
                }),
                IsOk());
    return id;
  }

  std::vector<int64_t> Claim(const std::string& owner, int64_t now,
                             int64_t until, int limit) {
    std::vector<int64_t> ids;
    EXPECT_THAT(WriteOne([&](WriteTxn& t) -> absl::Status {
                  auto r = t.ClaimOutbox(owner, now, until, limit);
                  if (!r.ok()) return r.status();
                  for (const OutboxMessage& m : *r) ids.push_back(m.id);
                  return absl::OkStatus();
                }),
                IsOk());
    return ids;
  }

  std::vector<std::string> ClaimTimers(const std::string& owner, int64_t now,
                                       int64_t until) {
    std::vector<std::string> out;
    EXPECT_THAT(WriteOne([&](WriteTxn& t) -> absl::Status {
                  auto r = t.ClaimDueTimers(owner, now, until, 100);
                  if (!r.ok()) return r.status();
                  for (const TimerRecord& tr : *r) {
                    out.push_back(tr.letter_id + "/" + tr.kind);
                  }
                  return absl::OkStatus();
                }),
                IsOk());
    return out;
  }

  std::unique_ptr<Engine> engine_ = NewMemoryEngine();
};

TEST_F(MemoryEngineTest, LogsInTheTransactionAndAlwaysHoldsTheLease) {
  EXPECT_TRUE(engine_->log_in_transaction());
  EXPECT_THAT(engine_->HoldSequencerLease(), IsOkAndHolds(true));
}

TEST_F(MemoryEngineTest, InsertedLetterIsReadWithItsDocuments) {
  ASSERT_THAT(Insert(Row("L1", "t1", "ref-1")), IsOk());
  ASSERT_THAT(WriteOne([](WriteTxn& t) {
                return t.InsertDocument(
                    "L1", 0, {"a.pdf", "application/pdf", "%PDF-a", "sha-a"});
              }),
              IsOk());
  ASSERT_THAT(engine_->Read([](ReadTxn& t) -> absl::Status {
    auto row = t.GetLetter("L1");
    EXPECT_THAT(row, IsOk());
    EXPECT_TRUE(row->has_value());
    EXPECT_EQ((*row)->record.spec.title(), "Vedtak L1");
    EXPECT_EQ((*row)->request_digest, "d-L1");
    EXPECT_THAT((*row)->record.documents, SizeIs(1));
    EXPECT_EQ((*row)->record.documents[0].size_bytes(), 6);
    auto by_ref = t.FindLetterByReference("t1", "ref-1");
    EXPECT_THAT(
        by_ref,
        IsOkAndHolds(Optional(Field(&LetterRow::request_digest, "d-L1"))));
    EXPECT_THAT(t.FindLetterByReference("t2", "ref-1"),
                IsOkAndHolds(::testing::Eq(std::nullopt)));
    auto docs = t.GetDocuments("L1", false);
    EXPECT_THAT(
        docs,
        IsOkAndHolds(ElementsAre(Field(&StoredDocument::content, IsEmpty()))));
    docs = t.GetDocuments("L1", true);
    EXPECT_THAT(
        docs,
        IsOkAndHolds(ElementsAre(Field(&StoredDocument::content, "%PDF-a"))));
    return absl::OkStatus();
  }),
              IsOk());
}

TEST_F(MemoryEngineTest, DuplicateIdOrReferenceIsAlreadyExists) {
  ASSERT_THAT(Insert(Row("L1", "t1", "ref-1")), IsOk());
  EXPECT_THAT(Insert(Row("L1", "t1", "ref-2")),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
  EXPECT_THAT(Insert(Row("L2", "t1", "ref-1")),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
  EXPECT_THAT(Insert(Row("L2", "t2", "ref-1")), IsOk());
}

TEST_F(MemoryEngineTest, AFailingOpIsUndoneAloneAndTheOthersCommit) {
  std::vector<Engine::WriteOp> ops(3);
  ops[0].run = [](WriteTxn& t) {
    return t.InsertLetter(Row("L1", "t", "r1"), "");
  };
  ops[1].run = [](WriteTxn& t) -> absl::Status {
    // Writes, then fails: none of it may stay.
    absl::Status s = t.InsertLetter(Row("L2", "t", "r2"), "");
    if (!s.ok()) return s;
    auto id = t.InsertOutbox("L2", OutboxMessage(), 1);
    if (!id.ok()) return id.status();
    return absl::InternalError("no key today");
  };
  ops[2].run = [](WriteTxn& t) -> absl::Status {
    // Sees the first op's letter, not the second's.
    auto l1 = t.GetLetter("L1");
    auto l2 = t.GetLetter("L2");
    if (!l1.ok() || !l1->has_value() || !l2.ok() || l2->has_value()) {
      return absl::InternalError("wrong view");
    }
    auto id = t.InsertOutbox("L1", OutboxMessage(), 1);
    return id.ok() ? absl::OkStatus() : id.status();
  };
  ASSERT_THAT(engine_->Write(&ops), IsOk());
  EXPECT_THAT(ops[0].status, IsOk());
  EXPECT_THAT(ops[1].status,
              StatusIs(absl::StatusCode::kInternal, "no key today"));
  EXPECT_THAT(ops[2].status, IsOk());
  ASSERT_THAT(engine_->Read([](ReadTxn& t) -> absl::Status {
    EXPECT_THAT(t.GetLetter("L2"), IsOkAndHolds(::testing::Eq(std::nullopt)));
    auto pending = t.PendingOutbox(10);
    EXPECT_THAT(
        pending,
        IsOkAndHolds(ElementsAre(Field(&OutboxMessage::letter_id, "L1"))));
    // The undone op's id is not seen: ids follow the committed rows.
    EXPECT_EQ((*pending)[0].id, 1);
    return absl::OkStatus();
  }),
              IsOk());
}

TEST_F(MemoryEngineTest, ReadersSeeTheLastCommitOnly) {
  ASSERT_THAT(Insert(Row("L1", "t", "r1")), IsOk());
  absl::Notification in_write, read_done;
  std::thread writer([&] {
    EXPECT_THAT(WriteOne([&](WriteTxn& t) -> absl::Status {
                  absl::Status s = t.InsertLetter(Row("L2", "t", "r2"), "");
                  in_write.Notify();
                  read_done.WaitForNotification();
                  return s;
                }),
                IsOk());
  });
  in_write.WaitForNotification();
  // A read during the write: no wait, and no sight of it.
  EXPECT_THAT(engine_->Read([](ReadTxn& t) -> absl::Status {
    EXPECT_THAT(t.GetLetter("L2"), IsOkAndHolds(::testing::Eq(std::nullopt)));
    EXPECT_THAT(t.GetLetter("L1"), IsOkAndHolds(Optional(::testing::_)));
    return absl::OkStatus();
  }),
              IsOk());
  read_done.Notify();
  writer.join();
  EXPECT_THAT(engine_->Read([](ReadTxn& t) -> absl::Status {
    EXPECT_THAT(t.GetLetter("L2"), IsOkAndHolds(Optional(::testing::_)));
    return absl::OkStatus();
  }),
              IsOk());
}

TEST_F(MemoryEngineTest, ReceiptCursorsAndOutboxIdsIncreaseFromOne) {
  ASSERT_THAT(Insert(Row("L1", "t", "r1")), IsOk());
  std::vector<int64_t> cursors;
  for (int seq = 1; seq <= 3; ++seq) {
    ASSERT_THAT(WriteOne([&](WriteTxn& t) -> absl::Status {
                  ReceiptRecord r;
                  r.letter_id = "L1";
                  r.tenant = "t";
                  r.sequence = seq;
                  r.jws = absl::StrCat("jws", seq);
                  r.sha256_hex = absl::StrCat("sha", seq);
                  auto c = t.InsertReceipt(r);
                  if (!c.ok()) return c.status();
                  cursors.push_back(*c);
                  return t.AppendLogLeaf(seq - 1, *c);
                }),
                IsOk());
  }
  EXPECT_THAT(cursors, ElementsAre(1, 2, 3));
  // The same sequence twice is refused.
  EXPECT_THAT(WriteOne([](WriteTxn& t) -> absl::Status {
                ReceiptRecord r;
                r.letter_id = "L1";
                r.sequence = 2;
                return t.InsertReceipt(r).status();
              }),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
  EXPECT_EQ(AddOutbox("L1", "a"), 1);
  EXPECT_EQ(AddOutbox("L1", "b"), 2);
  ASSERT_THAT(engine_->Read([](ReadTxn& t) -> absl::Status {
    EXPECT_THAT(t.LastReceipt("L1"),
                IsOkAndHolds(Optional(Field(&ReceiptTip::sha256_hex, "sha3"))));
    EXPECT_THAT(t.LastReceipt("L2"), IsOkAndHolds(::testing::Eq(std::nullopt)));
    EXPECT_THAT(t.LastReceiptCursor(), IsOkAndHolds(3));
    EXPECT_THAT(t.LogSize(), IsOkAndHolds(3));
    auto at = t.ReceiptAtLeaf(1);
    EXPECT_THAT(at, IsOkAndHolds(Optional(Field(&ReceiptRecord::jws, "jws2"))));
    EXPECT_EQ((*at)->client_reference, "r1");
    EXPECT_EQ((*at)->leaf_index, 1);
    EXPECT_THAT(t.ReceiptAtLeaf(3), IsOkAndHolds(::testing::Eq(std::nullopt)));
    EXPECT_THAT(t.UnloggedReceipts(10), IsOkAndHolds(IsEmpty()));
    EXPECT_THAT(t.ReceiptsAfter(1, "", 1),
                IsOkAndHolds(ElementsAre(Field(&ReceiptRecord::cursor, 2))));
    return absl::OkStatus();
  }),
              IsOk());
}

TEST_F(MemoryEngineTest, ALeafMustBeTheNextOne) {
  ASSERT_THAT(Insert(Row("L1", "t", "r1")), IsOk());
  EXPECT_THAT(WriteOne([](WriteTxn& t) -> absl::Status {
                ReceiptRecord r;
                r.letter_id = "L1";
                r.sequence = 1;
                auto c = t.InsertReceipt(r);
                if (!c.ok()) return c.status();
                return t.AppendLogLeaf(1, *c);
              }),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_THAT(WriteOne([](WriteTxn& t) { return t.AppendLogLeaf(0, 99); }),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
}

TEST_F(MemoryEngineTest, ClaimedOutboxIsDisjointUntilTheLeaseEnds) {
  ASSERT_THAT(Insert(Row("L1", "t", "r1")), IsOk());
  for (int i = 0; i < 5; ++i) AddOutbox("L1", absl::StrCat("m", i));
  // A holds 1..3 until 100; B gets only the rest meanwhile.
  EXPECT_THAT(Claim("A", 10, 100, 3), ElementsAre(1, 2, 3));
  EXPECT_THAT(Claim("B", 20, 120, 10), ElementsAre(4, 5));
  EXPECT_THAT(Claim("C", 99, 200, 10), IsEmpty());
  // A's lease is over at 100: its unsent messages go to whoever asks.
  ASSERT_THAT(WriteOne([](WriteTxn& t) { return t.MarkOutboxSent(2, 50); }),
              IsOk());
  EXPECT_THAT(Claim("C", 100, 200, 10), ElementsAre(1, 3));
  // Sent messages never come back, whatever the time.
  EXPECT_THAT(Claim("D", 1000, 2000, 10), ElementsAre(1, 3, 4, 5));
  ASSERT_THAT(engine_->Read([](ReadTxn& t) -> absl::Status {
    EXPECT_THAT(t.GetOutbox(2),
                IsOkAndHolds(Optional(Field(&OutboxEntry::sent, true))));
    EXPECT_THAT(t.GetOutbox(9), IsOkAndHolds(::testing::Eq(std::nullopt)));
    EXPECT_THAT(t.GetOutboxLag(), IsOkAndHolds(Field(&OutboxLag::pending, 4)));
    EXPECT_THAT(t.HasPendingOutbox("L1"), IsOkAndHolds(true));
    return absl::OkStatus();
  }),
              IsOk());
}

TEST_F(MemoryEngineTest, ConcurrentClaimsNeverShareAMessage) {
  ASSERT_THAT(Insert(Row("L1", "t", "r1")), IsOk());
  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i) AddOutbox("L1", "m");
  std::vector<std::set<int64_t>> got(4);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      // An owner may be handed its own messages again (store.h: "no other
      // relay holds"), never another owner's.
      for (int round = 0; round < 20; ++round) {
        for (int64_t id : Claim(absl::StrCat("relay-", w), 10, 1000, 7)) {
          got[w].insert(id);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<int64_t> all;
  for (const auto& ids : got) all.insert(all.end(), ids.begin(), ids.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_LE(all.size(), static_cast<size_t>(kMessages));
  EXPECT_GE(all.size(), 4u * 7u);
}

TEST_F(MemoryEngineTest, DueTimersAreClaimedLikeTheOutbox) {
  ASSERT_THAT(Insert(Row("L1", "t", "r1")), IsOk());
  ASSERT_THAT(Insert(Row("L2", "t", "r2")), IsOk());
  ASSERT_THAT(WriteOne([](WriteTxn& t) -> absl::Status {
                absl::Status s = t.PutTimer({"L1", "print_if_unread", 50});
                if (s.ok()) s = t.PutTimer({"L2", "not_before", 40});
                if (s.ok()) s = t.PutTimer({"L2", "print_if_unread", 500});
                return s;
              }),
              IsOk());
  EXPECT_THAT(ClaimTimers("A", 30, 100), IsEmpty());
  // Earliest first; the one not due stays.
  EXPECT_THAT(ClaimTimers("A", 60, 100),
              ElementsAre("L2/not_before", "L1/print_if_unread"));
  EXPECT_THAT(ClaimTimers("B", 99, 200), IsEmpty());
  EXPECT_THAT(ClaimTimers("B", 100, 200),
              ElementsAre("L2/not_before", "L1/print_if_unread"));
  // Taking removes it only when it is still the same timer.
  EXPECT_THAT(WriteOne([](WriteTxn& t) -> absl::Status {
                auto stale = t.TakeTimer({"L1", "print_if_unread", 51});
                if (!stale.ok() || *stale) return absl::InternalError("stale");
                auto taken = t.TakeTimer({"L1", "print_if_unread", 50});
                if (!taken.ok() || !*taken) return absl::InternalError("take");
                return absl::OkStatus();
              }),
              IsOk());
  // A replaced timer is a new one, free of the old claim.
  ASSERT_THAT(WriteOne([](WriteTxn& t) {
                return t.PutTimer({"L2", "not_before", 45});
              }),
              IsOk());
  EXPECT_THAT(ClaimTimers("C", 150, 300), ElementsAre("L2/not_before"));
  ASSERT_THAT(engine_->Read([](ReadTxn& t) -> absl::Status {
    EXPECT_THAT(t.GetTimers("L2"),
                IsOkAndHolds(
                    ElementsAre(Field(&TimerRecord::kind, "not_before"),
                                Field(&TimerRecord::kind, "print_if_unread"))));
    EXPECT_THAT(t.DueTimers(1000, 1),
                IsOkAndHolds(ElementsAre(Field(&TimerRecord::due_ms, 45))));
    return absl::OkStatus();
  }),
              IsOk());
}

TEST_F(MemoryEngineTest, ListsNewestFirstWithEveryCondition) {
  ASSERT_THAT(Insert(Row("a1", "t1", "r1", 100)), IsOk());
  ASSERT_THAT(Insert(Row("a2", "t1", "r2", 200)), IsOk());
  ASSERT_THAT(Insert(Row("b2", "t1", "r3", 200)), IsOk());
  ASSERT_THAT(Insert(Row("c3", "t2", "r1", 300)), IsOk());
  auto ids = [&](const LetterQuery& q) {
    std::vector<std::string> out;
    EXPECT_THAT(engine_->Read([&](ReadTxn& t) -> absl::Status {
      auto r = t.ListLetters(q);
      if (!r.ok()) return r.status();
      for (const LetterRecord& l : *r) out.push_back(l.id);
      return absl::OkStatus();
    }),
                IsOk());
    return out;
  };
  LetterQuery q;
  EXPECT_THAT(ids(q), ElementsAre("c3", "b2", "a2", "a1"));
  q.tenant = "t1";
  q.limit = 2;
  EXPECT_THAT(ids(q), ElementsAre("b2", "a2"));
  q.after = std::make_pair(int64_t{200}, std::string("a2"));
  EXPECT_THAT(ids(q), ElementsAre("a1"));
  LetterQuery p;
  p.id_prefix = "a";
  p.created_after_ms = 100;
  EXPECT_THAT(ids(p), ElementsAre("a2"));
  LetterQuery b;
  b.created_before_ms = 200;
  EXPECT_THAT(ids(b), ElementsAre("a1"));
}

}  // namespace
}  // namespace utpost::store
