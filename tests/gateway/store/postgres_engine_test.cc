// What the PostgreSQL engine adds to the engine contract, against a real
// server: migrations at open, savepoints per op, cursors in commit order,
// claims with SKIP LOCKED and a lease shared by several engines (as by
// several processes), the sequencer lease, the receipt queue.
#include "gateway/store/postgres_engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gateway/store/pg_db.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres_database_test.h"

namespace utpost::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::testing::PostgresDatabaseTest;
using ::utpost::testing::StatusIs;
using Letter = ::utpost::v1::Letter;

class PostgresEngineTest : public PostgresDatabaseTest {
 protected:
  void SetUp() override {
    PostgresDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    engine_ = Open();
    ASSERT_NE(engine_, nullptr);
  }

  PostgresEngineOptions Options() const {
    PostgresEngineOptions o;
    o.conninfo = ConnInfo();
    o.password = Password();
    o.pool_size = 4;
    return o;
  }

  std::unique_ptr<Engine> Open() {
    auto engine = OpenPostgresEngine(Options());
    EXPECT_THAT(engine, IsOk());
    return engine.ok() ? *std::move(engine) : nullptr;
  }

  static LetterRow Row(const std::string& id, const std::string& ref) {
    LetterRow row;
    row.record.id = id;
    row.record.tenant = "964338531";
    row.record.client_reference = ref;
    row.record.state = Letter::RECEIVED;
    row.record.spec.set_client_reference(ref);
    row.record.create_time_ms = 1000;
    row.record.update_time_ms = 1000;
    row.request_digest = "digest-" + ref;
    return row;
  }

  // Writes `fn` as one op and returns the op's own status.
  absl::Status WriteOne(Engine& engine,
                        std::function<absl::Status(WriteTxn&)> fn) {
    std::vector<Engine::WriteOp> ops(1);
    ops[0].run = std::move(fn);
    absl::Status s = engine.Write(&ops);
    if (!s.ok()) return s;
    return ops[0].status;
  }

  absl::Status AddLetter(const std::string& id) {
    return WriteOne(*engine_, [id](WriteTxn& txn) {
      LetterRow row = Row(id, "ref-" + id);
      return txn.InsertLetter(row, row.record.spec.SerializeAsString());
    });
  }

  static ReceiptRecord Receipt(const std::string& letter_id, int64_t seq) {
    ReceiptRecord r;
    r.letter_id = letter_id;
    r.tenant = "964338531";
    r.sequence = seq;
    r.state = Letter::RECEIVED;
    r.time_ms = 2000 + seq;
    r.jws = absl::StrCat("jws-", letter_id, "-", seq);
    r.sha256_hex = "00";
    return r;
  }

  std::unique_ptr<Engine> engine_;
};

TEST_F(PostgresEngineTest, OpeningAgainFindsTheSchemaInPlace) {
  ASSERT_THAT(AddLetter("a"), IsOk());
  auto again = Open();
  ASSERT_NE(again, nullptr);
  std::optional<LetterRow> got;
  ASSERT_THAT(again->Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(got, txn.GetLetter("a"));
    return absl::OkStatus();
  }),
              IsOk());
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->record.client_reference, "ref-a");
  EXPECT_EQ(got->record.spec.client_reference(), "ref-a");
  EXPECT_EQ(got->request_digest, "digest-ref-a");
}

TEST_F(PostgresEngineTest, RefusesOptionsAndLoginsThatCannotWork) {
  PostgresEngineOptions none;
  EXPECT_THAT(
      OpenPostgresEngine(none),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("conninfo")));
  PostgresEngineOptions wrong = Options();
  wrong.password = "wrong";
  EXPECT_THAT(OpenPostgresEngine(wrong),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("password authentication failed")));
}

TEST_F(PostgresEngineTest, RefusesADatabaseNewerThanTheBuild) {
  engine_.reset();
  // A version recorded by a newer build (written directly: the engine never
  // records versions it does not know).
  internal::PgPool::Options o;
  o.connection.conninfo = server().ConnInfo(database());
  o.size = 1;
  auto pool = internal::PgPool::Open(o);
  ASSERT_THAT(pool, IsOk());
  ASSERT_THAT((*pool)->Acquire().value()->Exec(
                  "INSERT INTO schema_migrations (version, name) "
                  "VALUES (999, 'later')"),
              IsOk());
  EXPECT_THAT(OpenPostgresEngine(Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("newer than this build's")));
}

TEST_F(PostgresEngineTest, AFailedOpIsUndoneAloneAndTheOthersCommit) {
  std::vector<Engine::WriteOp> ops(3);
  ops[0].run = [](WriteTxn& txn) {
    LetterRow row = Row("a", "one");
    return txn.InsertLetter(row, row.record.spec.SerializeAsString());
  };
  ops[1].run = [](WriteTxn& txn) -> absl::Status {
    LetterRow row = Row("b", "two");
    RETURN_IF_ERROR(txn.InsertLetter(row, row.record.spec.SerializeAsString()));
    // Same tenant and client reference as "a": refused, and "b" goes too.
    LetterRow dup = Row("c", "one");
    return txn.InsertLetter(dup, dup.record.spec.SerializeAsString());
  };
  ops[2].run = [](WriteTxn& txn) -> absl::Status {
    LetterRow row = Row("d", "four");
    RETURN_IF_ERROR(txn.InsertLetter(row, row.record.spec.SerializeAsString()));
    Document doc;
    doc.file_name = "brev.pdf";
    doc.media_type = "application/pdf";
    doc.content = std::string("%PDF-1.7\0binary", 15);
    doc.sha256_hex = "ab";
    return txn.InsertDocument("d", 0, doc);
  };
  ASSERT_THAT(engine_->Write(&ops), IsOk());
  EXPECT_THAT(ops[0].status, IsOk());
  EXPECT_THAT(ops[1].status,
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
  EXPECT_THAT(ops[2].status, IsOk());
  std::vector<std::string> ids;
  std::vector<StoredDocument> docs;
  std::vector<size_t> listed_docs;
  std::optional<LetterRow> d;
  ASSERT_THAT(engine_->Read([&](ReadTxn& txn) -> absl::Status {
    LetterQuery q;
    ASSIGN_OR_RETURN(std::vector<LetterRecord> all, txn.ListLetters(q));
    for (const LetterRecord& r : all) {
      ids.push_back(r.id);
      listed_docs.push_back(r.documents.size());
    }
    ASSIGN_OR_RETURN(docs, txn.GetDocuments("d", true));
    ASSIGN_OR_RETURN(d, txn.GetLetter("d"));
    return absl::OkStatus();
  }),
              IsOk());
  // Newest first: equal times, so by id descending.
  EXPECT_THAT(ids, ElementsAre("d", "a"));
  EXPECT_THAT(listed_docs, ElementsAre(1u, 0u));
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].content, std::string("%PDF-1.7\0binary", 15));
  EXPECT_EQ(docs[0].size, 15);
  ASSERT_TRUE(d.has_value());
  ASSERT_EQ(d->record.documents.size(), 1u);
  EXPECT_EQ(d->record.documents[0].file_name(), "brev.pdf");
}

TEST_F(PostgresEngineTest, ListingPagesAndFiltersLikeTheOtherEngines) {
  std::vector<Engine::WriteOp> ops(1);
  ops[0].run = [](WriteTxn& txn) -> absl::Status {
    for (int i = 0; i < 5; ++i) {
      LetterRow row = Row(absl::StrCat("a", i, "-x"), absl::StrCat("r", i));
      row.record.create_time_ms = 1000 + i / 2;  // Ties broken by id.
      row.record.reason = i == 3 ? "no mailbox found" : "";
      RETURN_IF_ERROR(
          txn.InsertLetter(row, row.record.spec.SerializeAsString()));
    }
    return absl::OkStatus();
  };
  ASSERT_THAT(engine_->Write(&ops), IsOk());
  ASSERT_THAT(ops[0].status, IsOk());
  auto list = [&](LetterQuery q) {
    std::vector<std::string> ids;
    EXPECT_THAT(engine_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(std::vector<LetterRecord> all, txn.ListLetters(q));
      for (const LetterRecord& r : all) ids.push_back(r.id);
      return absl::OkStatus();
    }),
                IsOk());
    return ids;
  };
  LetterQuery first;
  first.limit = 2;
  EXPECT_THAT(list(first), ElementsAre("a4-x", "a3-x"));
  LetterQuery second = first;
  second.after = std::make_pair(int64_t{1001}, std::string("a3-x"));
  EXPECT_THAT(list(second), ElementsAre("a2-x", "a1-x"));
  LetterQuery reason;
  reason.reason_contains = "mailbox";
  EXPECT_THAT(list(reason), ElementsAre("a3-x"));
  LetterQuery prefix;
  prefix.id_prefix = "a1";
  EXPECT_THAT(list(prefix), ElementsAre("a1-x"));
  // '_' and '%' are not wildcards.
  prefix.id_prefix = "a_";
  EXPECT_THAT(list(prefix), ::testing::IsEmpty());
  LetterQuery window;
  window.created_after_ms = 1000;
  window.created_before_ms = 1002;
  EXPECT_THAT(list(window), ElementsAre("a3-x", "a2-x"));
}

TEST_F(PostgresEngineTest, ReceiptCursorsFollowCommitOrder) {
  ASSERT_THAT(AddLetter("a"), IsOk());
  ASSERT_THAT(AddLetter("b"), IsOk());
  std::atomic<bool> first_inserted{false};
  int64_t first_cursor = 0, second_cursor = 0;
  std::chrono::steady_clock::time_point first_done, second_done;
  auto second_engine = Open();
  ASSERT_NE(second_engine, nullptr);
  std::thread first([&] {
    EXPECT_THAT(
        WriteOne(*engine_,
                 [&](WriteTxn& txn) -> absl::Status {
                   ASSIGN_OR_RETURN(first_cursor,
                                    txn.InsertReceipt(Receipt("a", 1)));
                   first_inserted = true;
                   // Still open: a second writer must wait.
                   std::this_thread::sleep_for(std::chrono::milliseconds(300));
                   return absl::OkStatus();
                 }),
        IsOk());
    first_done = std::chrono::steady_clock::now();
  });
  while (!first_inserted)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_THAT(WriteOne(*second_engine,
                       [&](WriteTxn& txn) -> absl::Status {
                         ASSIGN_OR_RETURN(second_cursor,
                                          txn.InsertReceipt(Receipt("b", 1)));
                         return absl::OkStatus();
                       }),
              IsOk());
  second_done = std::chrono::steady_clock::now();
  first.join();
  EXPECT_EQ(second_cursor, first_cursor + 1);
  EXPECT_GE(second_done, first_done);
  std::vector<ReceiptRecord> seen;
  ASSERT_THAT(engine_->Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(seen, txn.ReceiptsAfter(0, "", 10));
    return absl::OkStatus();
  }),
              IsOk());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].letter_id, "a");
  EXPECT_EQ(seen[0].client_reference, "ref-a");
  EXPECT_EQ(seen[0].leaf_index, -1);  // Queued for the sequencer.
}

TEST_F(PostgresEngineTest, AFailedOpGivesBackItsCursor) {
  ASSERT_THAT(AddLetter("a"), IsOk());
  std::vector<Engine::WriteOp> ops(2);
  ops[0].run = [](WriteTxn& txn) -> absl::Status {
    RETURN_IF_ERROR(txn.InsertReceipt(Receipt("a", 1)).status());
    return absl::FailedPreconditionError("rules said no");
  };
  int64_t cursor = 0;
  ops[1].run = [&](WriteTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(cursor, txn.InsertReceipt(Receipt("a", 1)));
    return absl::OkStatus();
  };
  ASSERT_THAT(engine_->Write(&ops), IsOk());
  EXPECT_THAT(ops[0].status,
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_EQ(cursor, 1);  // No gap.
}

TEST_F(PostgresEngineTest, ReceiptsQueueUntilTheSequencerLogsThem) {
  ASSERT_THAT(AddLetter("a"), IsOk());
  std::vector<int64_t> cursors;
  ASSERT_THAT(WriteOne(*engine_,
                       [&](WriteTxn& txn) -> absl::Status {
                         for (int seq = 1; seq <= 3; ++seq) {
                           ASSIGN_OR_RETURN(
                               int64_t c, txn.InsertReceipt(Receipt("a", seq)));
                           cursors.push_back(c);
                         }
                         return absl::OkStatus();
                       }),
              IsOk());
  std::vector<UnloggedReceipt> queued;
  ASSERT_THAT(
      WriteOne(*engine_,
               [&](WriteTxn& txn) -> absl::Status {
                 RETURN_IF_ERROR(txn.LockReceiptLog());
                 ASSIGN_OR_RETURN(queued, txn.UnloggedReceipts(10));
                 RETURN_IF_ERROR(txn.AppendLogLeaf(0, queued[0].cursor));
                 return txn.PutLogNode(0, 0, std::string(32, '\x01'));
               }),
      IsOk());
  ASSERT_EQ(queued.size(), 3u);
  EXPECT_EQ(queued[0].cursor, cursors[0]);
  EXPECT_EQ(queued[0].jws, "jws-a-1");
  std::vector<UnloggedReceipt> rest;
  std::vector<ReceiptRecord> receipts;
  int64_t size = -1;
  std::optional<std::string> node;
  ASSERT_THAT(engine_->Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(rest, txn.UnloggedReceipts(10));
    ASSIGN_OR_RETURN(receipts, txn.GetReceipts("a"));
    ASSIGN_OR_RETURN(size, txn.LogSize());
    ASSIGN_OR_RETURN(node, txn.GetLogNode(0, 0));
    return absl::OkStatus();
  }),
              IsOk());
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].cursor, cursors[1]);
  EXPECT_EQ(size, 1);
  EXPECT_EQ(node, std::string(32, '\x01'));
  ASSERT_EQ(receipts.size(), 3u);
  EXPECT_EQ(receipts[0].leaf_index, 0);
  EXPECT_EQ(receipts[1].leaf_index, -1);
  EXPECT_FALSE(engine_->log_in_transaction());
}

TEST_F(PostgresEngineTest, SequencerLeaseHasOneHolderAtATime) {
  auto other = Open();
  ASSERT_NE(other, nullptr);
  EXPECT_THAT(engine_->HoldSequencerLease(), IsOkAndHolds(true));
  EXPECT_THAT(engine_->HoldSequencerLease(), IsOkAndHolds(true));
  EXPECT_THAT(other->HoldSequencerLease(), IsOkAndHolds(false));
  // The holder goes (its session ends): the other takes over.
  engine_.reset();
  bool taken = false;
  for (int i = 0; i < 100 && !taken; ++i) {
    auto held = other->HoldSequencerLease();
    ASSERT_THAT(held, IsOk());
    taken = *held;
    if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(taken);
}

TEST_F(PostgresEngineTest, OutboxClaimsAreExclusiveUntilTheLeaseEnds) {
  ASSERT_THAT(AddLetter("a"), IsOk());
  std::vector<int64_t> ids;
  ASSERT_THAT(WriteOne(*engine_,
                       [&](WriteTxn& txn) -> absl::Status {
                         for (int i = 0; i < 3; ++i) {
                           OutboxMessage m;
                           m.exchange = "utpost.work";
                           m.routing_key = "route";
                           m.body = absl::StrCat("body", i);
                           ASSIGN_OR_RETURN(int64_t id,
                                            txn.InsertOutbox("a", m, 10));
                           ids.push_back(id);
                         }
                         return absl::OkStatus();
                       }),
              IsOk());
  auto other = Open();
  ASSERT_NE(other, nullptr);
  auto claim = [&](Engine& e, const std::string& owner, int64_t now,
                   int limit) {
    std::vector<int64_t> got;
    EXPECT_THAT(WriteOne(e,
                         [&](WriteTxn& txn) -> absl::Status {
                           ASSIGN_OR_RETURN(
                               std::vector<OutboxMessage> ms,
                               txn.ClaimOutbox(owner, now, now + 1000, limit));
                           for (const OutboxMessage& m : ms) {
                             EXPECT_EQ(m.letter_id, "a");
                             got.push_back(m.id);
                           }
                           return absl::OkStatus();
                         }),
                IsOk());
    return got;
  };
  EXPECT_THAT(claim(*engine_, "relay-1", 100, 2), ElementsAre(ids[0], ids[1]));
  EXPECT_THAT(claim(*other, "relay-2", 200, 10), ElementsAre(ids[2]));
  EXPECT_THAT(claim(*other, "relay-3", 300, 10), ::testing::IsEmpty());
  // The owner gets its own again (lease renewed).
  EXPECT_THAT(claim(*engine_, "relay-1", 400, 10), ElementsAre(ids[0], ids[1]));
  ASSERT_THAT(
      WriteOne(*engine_,
               [&](WriteTxn& txn) { return txn.MarkOutboxSent(ids[0], 500); }),
      IsOk());
  // relay-1's lease (until 1400) is over at 1400; sent messages stay out.
  EXPECT_THAT(claim(*other, "relay-2", 1400, 10), ElementsAre(ids[1], ids[2]));
  std::optional<OutboxEntry> sent;
  ASSERT_THAT(engine_->Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(sent, txn.GetOutbox(ids[0]));
    return absl::OkStatus();
  }),
              IsOk());
  ASSERT_TRUE(sent.has_value());
  EXPECT_TRUE(sent->sent);
}

TEST_F(PostgresEngineTest, ConcurrentClaimersNeverShareAMessage) {
  ASSERT_THAT(AddLetter("a"), IsOk());
  constexpr int kMessages = 200;
  ASSERT_THAT(
      WriteOne(*engine_,
               [&](WriteTxn& txn) -> absl::Status {
                 for (int i = 0; i < kMessages; ++i) {
                   OutboxMessage m;
                   m.exchange = "x";
                   m.routing_key = "k";
                   m.body = "b";
                   RETURN_IF_ERROR(txn.InsertOutbox("a", m, 10).status());
                 }
                 return absl::OkStatus();
               }),
      IsOk());
  constexpr int kClaimers = 4;
  std::vector<std::unique_ptr<Engine>> engines;
  for (int i = 0; i < kClaimers; ++i) engines.push_back(Open());
  std::mutex mu;
  std::vector<int64_t> all;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClaimers; ++i) {
    threads.emplace_back([&, i] {
      while (true) {
        std::vector<OutboxMessage> got;
        absl::Status s =
            WriteOne(*engines[i], [&](WriteTxn& txn) -> absl::Status {
              ASSIGN_OR_RETURN(got, txn.ClaimOutbox(absl::StrCat("relay-", i),
                                                    100, 1000000, 7));
              // Sent and confirmed (else the owner would be given them again).
              for (const OutboxMessage& m : got) {
                RETURN_IF_ERROR(txn.MarkOutboxSent(m.id, 200));
              }
              return absl::OkStatus();
            });
        EXPECT_THAT(s, IsOk());
        if (!s.ok() || got.empty()) return;
        std::lock_guard<std::mutex> lock(mu);
        for (const OutboxMessage& m : got) all.push_back(m.id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<int64_t> unique(all.begin(), all.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(unique.size(), static_cast<size_t>(kMessages));
}

TEST_F(PostgresEngineTest, TimerClaimsAreExclusiveUntilTheLeaseEnds) {
  ASSERT_THAT(AddLetter("a"), IsOk());
  ASSERT_THAT(AddLetter("b"), IsOk());
  ASSERT_THAT(WriteOne(*engine_,
                       [&](WriteTxn& txn) -> absl::Status {
                         RETURN_IF_ERROR(txn.PutTimer({"a", "print", 50}));
                         RETURN_IF_ERROR(txn.PutTimer({"b", "print", 60}));
                         return txn.PutTimer({"b", "later", 5000});
                       }),
              IsOk());
  auto claim = [&](const std::string& owner, int64_t now) {
    std::vector<std::string> got;
    EXPECT_THAT(WriteOne(*engine_,
                         [&](WriteTxn& txn) -> absl::Status {
                           ASSIGN_OR_RETURN(
                               std::vector<TimerRecord> ts,
                               txn.ClaimDueTimers(owner, now, now + 100, 10));
                           for (const TimerRecord& t : ts) {
                             got.push_back(t.letter_id + "/" + t.kind);
                           }
                           return absl::OkStatus();
                         }),
                IsOk());
    return got;
  };
  EXPECT_THAT(claim("w1", 100), ElementsAre("a/print", "b/print"));
  EXPECT_THAT(claim("w2", 150), ::testing::IsEmpty());
  EXPECT_THAT(claim("w2", 200), ElementsAre("a/print", "b/print"));
  // Replacing a timer drops its claim; taking it needs the exact timer.
  bool taken_old = true, taken = false;
  ASSERT_THAT(
      WriteOne(*engine_,
               [&](WriteTxn& txn) -> absl::Status {
                 RETURN_IF_ERROR(txn.PutTimer({"a", "print", 70}));
                 ASSIGN_OR_RETURN(taken_old, txn.TakeTimer({"a", "print", 50}));
                 ASSIGN_OR_RETURN(taken, txn.TakeTimer({"a", "print", 70}));
                 return absl::OkStatus();
               }),
      IsOk());
  EXPECT_FALSE(taken_old);
  EXPECT_TRUE(taken);
}

TEST_F(PostgresEngineTest, ReadsSurviveAServerRestart) {
  ASSERT_THAT(AddLetter("a"), IsOk());
  ASSERT_THAT(server().Restart(), IsOk());
  std::optional<LetterRow> got;
  EXPECT_THAT(engine_->Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(got, txn.GetLetter("a"));
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_TRUE(got.has_value());
  EXPECT_THAT(AddLetter("b"), IsOk());
}

}  // namespace
}  // namespace utpost::store
