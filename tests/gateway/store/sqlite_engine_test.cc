// What only the SQLite engine does: a file that outlives the process, its
// schema version, write-ahead logging, a lock held by another process, and
// several processes writing one file. Everything else about the store runs
// on every engine (store_test.cc and the other suites over
// tests/testing/store_engines.h).
#include "gateway/store/sqlite_engine.h"

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/audit_log.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/store_impl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/audit_export.h"
#include "tests/testing/store_engines.h"
#include "tests/testing/temp_store.h"

namespace utpost::store {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Letter;

constexpr char kTenantA[] = "964338531";
constexpr char kTenantB[] = "958935420";
constexpr char kCa[] = "certs-dev/ca.pem";

NewLetter MakeLetter(const std::string& id, const std::string& tenant) {
  NewLetter l;
  l.id = id;
  l.tenant = tenant;
  l.client_reference = "ref-" + id;
  l.request_digest = Sha256Hex(id);
  l.spec.set_title("Vedtak");
  l.spec.mutable_recipient()->set_person("01017012345");
  Document doc;
  doc.file_name = "vedtak.pdf";
  doc.media_type = "application/pdf";
  doc.content = "%PDF-1.7 " + id;
  l.documents.push_back(doc);
  l.first_work.exchange = "utpost.work";
  l.first_work.routing_key = "route";
  l.first_work.body = id;
  return l;
}

Transition To(State to, std::vector<State> from) {
  Transition t;
  t.from = std::move(from);
  t.to = to;
  t.channel = "digital";
  return t;
}

// Runs one statement on the file from a connection of its own, as another
// process (or an older build) would.
void ExecOnFile(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

// The integer `sql` gives on the file, from a connection of its own.
int64_t IntOnFile(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  int64_t out = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    out = sqlite3_column_int64(st, 0);
  } else {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

class SqliteEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(files_.dir().empty());
    auto signer = ::utpost::testing::DevReceiptSigner();
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
  }

  // A store over the test's file; null (and a failure) when it fails.
  std::unique_ptr<Store> Open(int busy_timeout_ms = 30000,
                              receipts::ReceiptSigner* signer = nullptr) {
    SqliteEngineOptions eo;
    eo.path = files_.path();
    eo.busy_timeout_ms = busy_timeout_ms;
    auto engine = OpenSqliteEngine(eo);
    EXPECT_THAT(engine, IsOk());
    if (!engine.ok()) return nullptr;
    StoreOptions so;
    so.signer = signer != nullptr ? signer : signer_.get();
    so.clock = &clock_;
    auto store = OpenStore(std::move(*engine), so);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? std::move(*store) : nullptr;
  }

  // A letter through RECEIVED, QUEUED, ROUTED, SENT_DIGITAL, DELIVERED.
  static void Deliver(Store* s, const std::string& id,
                      const std::string& tenant) {
    std::vector<NewLetter> v;
    v.push_back(MakeLetter(id, tenant));
    auto created = s->CreateLetters(std::move(v));
    ASSERT_THAT(created, IsOk());
    ASSERT_THAT((*created)[0], IsOk());
    ASSERT_THAT(s->ApplyTransition(id, To(Letter::QUEUED, {Letter::RECEIVED})),
                IsOk());
    ASSERT_THAT(s->ApplyTransition(id, To(Letter::ROUTED, {Letter::QUEUED})),
                IsOk());
    Transition t = To(Letter::SENT_DIGITAL, {Letter::ROUTED});
    t.then.push_back({Letter::DELIVERED, ""});
    t.provider = "984661185";
    ASSERT_THAT(s->ApplyTransition(id, t), IsOk());
  }

  static std::vector<ReceiptRecord> AllLogged(Store* s) {
    std::vector<ReceiptRecord> out;
    ReceiptLogQuery q;
    while (true) {
      auto page = s->LoggedReceipts(q);
      EXPECT_THAT(page, IsOk());
      if (!page.ok() || page->empty()) break;
      for (auto& r : *page) {
        q.after_leaf = r.leaf_index;
        out.push_back(std::move(r));
      }
    }
    return out;
  }

  ::utpost::testing::TempStoreFiles files_{"sqlite"};
  FakeClock clock_{RealClock()->NowMillis() / 1000 * 1000};
  std::unique_ptr<receipts::ReceiptSigner> signer_;
};

TEST_F(SqliteEngineTest, OpenRefusesAMissingOrInMemoryPath) {
  SqliteEngineOptions o;
  EXPECT_THAT(OpenSqliteEngine(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("path")));
  o.path = ":memory:";
  EXPECT_THAT(OpenSqliteEngine(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("path")));
}

TEST_F(SqliteEngineTest, AFileFromANewerBuildIsRefused) {
  ASSERT_NE(Open(), nullptr);
  ExecOnFile(files_.path(), "PRAGMA user_version = 999");
  SqliteEngineOptions o;
  o.path = files_.path();
  EXPECT_THAT(OpenSqliteEngine(o),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("newer than this build")));
}

TEST_F(SqliteEngineTest, AVersion2FileMigratesAndItsLettersHaveNoSheetCount) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Deliver(store.get(), "OLD", kTenantA);
  store.reset();
  EXPECT_EQ(IntOnFile(files_.path(), "PRAGMA user_version"), 6);
  // The file as a build of schema version 2 left it.
  ExecOnFile(files_.path(),
             "ALTER TABLE letters DROP COLUMN print_sheets; "
             "ALTER TABLE letters DROP COLUMN bulk; "
             "DROP TABLE tenant_days; DROP TABLE uploads; "
             "PRAGMA user_version = 2;");
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(IntOnFile(files_.path(), "PRAGMA user_version"), 6);
  NewLetter counted = MakeLetter("NEW", kTenantA);
  counted.print_sheets = 3;
  std::vector<NewLetter> v;
  v.push_back(std::move(counted));
  auto created = store->CreateLetters(std::move(v));
  ASSERT_THAT(created, IsOk());
  ASSERT_THAT((*created)[0], IsOk());
  StatsQuery q;
  q.from_ms = 0;
  q.to_ms = clock_.NowMillis() + 1;
  auto facts = store->LetterStatistics(q);
  ASSERT_THAT(facts, IsOk());
  ASSERT_EQ(facts->size(), 2u);
  EXPECT_EQ((*facts)[0].id, "NEW");  // Same time: by id.
  EXPECT_EQ((*facts)[0].print_sheets, 3);
  EXPECT_EQ((*facts)[1].id, "OLD");
  EXPECT_EQ((*facts)[1].print_sheets, 0);
  EXPECT_EQ((*facts)[1].state, Letter::DELIVERED);
  // A letter from before the lanes travels the single lane.
  auto old = store->GetLetter("OLD", "");
  ASSERT_THAT(old, IsOk());
  EXPECT_FALSE(old->bulk);
}

TEST_F(SqliteEngineTest,
       AVersion3FileMigratesAndItsLettersTravelTheSingleLane) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Deliver(store.get(), "OLD", kTenantA);
  store.reset();
  ExecOnFile(files_.path(),
             "ALTER TABLE letters DROP COLUMN bulk; DROP TABLE tenant_days; "
             "DROP TABLE uploads; PRAGMA user_version = 3;");
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(IntOnFile(files_.path(), "PRAGMA user_version"), 6);
  NewLetter bulk = MakeLetter("NEW", kTenantA);
  bulk.bulk = true;
  std::vector<NewLetter> v;
  v.push_back(std::move(bulk));
  auto created = store->CreateLetters(std::move(v));
  ASSERT_THAT(created, IsOk());
  ASSERT_THAT((*created)[0], IsOk());
  EXPECT_TRUE((*created)[0]->letter.bulk);
  auto fresh = store->GetLetter("NEW", "");
  ASSERT_THAT(fresh, IsOk());
  EXPECT_TRUE(fresh->bulk);
  auto old = store->GetLetter("OLD", "");
  ASSERT_THAT(old, IsOk());
  EXPECT_FALSE(old->bulk);
}

TEST_F(SqliteEngineTest, TheFileUsesWriteAheadLogging) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Deliver(store.get(), "L1", kTenantA);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(files_.path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
               "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(SqliteEngineTest, EverythingSurvivesAnotherProcessOpeningTheFile) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Deliver(store.get(), "L1", kTenantA);
  auto cursor = store->LastReceiptCursor();
  ASSERT_THAT(cursor, IsOk());
  store.reset();
  // A child process opens the file on its own and adds to it.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto signer = ::utpost::testing::DevReceiptSigner();
    if (!signer.ok()) _exit(2);
    auto child = Open(30000, signer->get());
    if (child == nullptr) _exit(3);
    Deliver(child.get(), "L2", kTenantB);
    if (::testing::Test::HasFailure()) _exit(4);
    child.reset();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->GetReceipts("L1", kTenantA),
              IsOkAndHolds(::testing::SizeIs(5)));
  EXPECT_THAT(store->GetReceipts("L2", kTenantB),
              IsOkAndHolds(::testing::SizeIs(5)));
  EXPECT_THAT(store->LastReceiptCursor(), IsOkAndHolds(*cursor + 5));
  EXPECT_THAT(store->ReceiptLogSize(), IsOkAndHolds(10));
}

TEST_F(SqliteEngineTest, LockedDatabaseIsUnavailableAndChangesNothing) {
  auto store = Open(/*busy_timeout_ms=*/50);
  ASSERT_NE(store, nullptr);
  std::vector<NewLetter> first;
  first.push_back(MakeLetter("L1", kTenantA));
  ASSERT_THAT(store->CreateLetters(std::move(first)), IsOk());
  // Another process holds the write lock.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(files_.path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::vector<NewLetter> group;
  group.push_back(MakeLetter("L2", kTenantA));
  EXPECT_THAT(store->CreateLetters(std::move(group)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("sqlite")));
  EXPECT_THAT(
      store->ApplyTransition("L1", To(Letter::QUEUED, {Letter::RECEIVED})),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("sqlite")));
  // Reads do not wait for the writer.
  EXPECT_THAT(store->GetLetter("L1", ""), IsOk());
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);

  EXPECT_THAT(store->GetLetter("L2", ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("L2")));
  EXPECT_THAT(
      store->GetLetter("L1", ""),
      IsOkAndHolds(::testing::Field(&LetterRecord::state, Letter::RECEIVED)));
  // And the store works again.
  EXPECT_THAT(
      store->ApplyTransition("L1", To(Letter::QUEUED, {Letter::RECEIVED})),
      IsOk());
}

TEST_F(SqliteEngineTest, SeveralProcessesWritingAtOnceMakeOneConsistentLog) {
  constexpr int kProcesses = 4;
  constexpr int kLettersEach = 15;
  // The schema exists before the children race to open the file.
  ASSERT_NE(Open(), nullptr);
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // A worker process of its own: its own signer and store.
      auto signer = ::utpost::testing::DevReceiptSigner();
      if (!signer.ok()) _exit(2);
      auto store = Open(30000, signer->get());
      if (store == nullptr) _exit(3);
      for (int i = 0; i < kLettersEach; ++i) {
        Deliver(store.get(), absl::StrCat("P", p, "-", i),
                p % 2 == 0 ? kTenantA : kTenantB);
        if (::testing::Test::HasFailure()) _exit(4);
        if (i % 5 == 4 && !store->IssueTreeHead().ok()) _exit(5);
      }
      store.reset();
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto all = AllLogged(store.get());
  ASSERT_EQ(all.size(), size_t{kProcesses * kLettersEach * 5});
  std::map<std::string, int64_t> last_seq;
  for (size_t i = 0; i < all.size(); ++i) {
    // No gaps, commit order, each letter's receipts in sequence.
    EXPECT_EQ(all[i].leaf_index, static_cast<int64_t>(i));
    if (i > 0) EXPECT_GT(all[i].cursor, all[i - 1].cursor);
    EXPECT_EQ(all[i].sequence, ++last_seq[all[i].letter_id]);
  }
  // The whole log, with every head the processes published, verifies.
  const std::string file = files_.dir() + "/all.jsonl";
  ASSERT_THAT(utpost::testing::WriteStoreExport(store.get(), signer_.get(),
                                                file, "", 1),
              IsOk());
  auto report = cli::VerifyExport(file, kCa, "");
  std::remove(file.c_str());
  ASSERT_THAT(report, IsOk());
  for (const auto& f : report->faults)
    ADD_FAILURE() << f.where << ": " << f.what;
  EXPECT_EQ(report->receipts, kProcesses * kLettersEach * 5);
  EXPECT_GE(report->tree_heads, kProcesses * 3);
}

TEST_F(SqliteEngineTest, ReceiptsWrittenBeforeTheLogExistedJoinItAtOpen) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Deliver(store.get(), "OLD", kTenantA);
  store.reset();
  // A database as a build without the log left it.
  ExecOnFile(files_.path(),
             "DELETE FROM receipt_log_leaves; DELETE FROM receipt_log_nodes;");
  store = Open();
  ASSERT_NE(store, nullptr);
  Deliver(store.get(), "NEW", kTenantA);
  auto all = AllLogged(store.get());
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all[0].letter_id, "OLD");
  EXPECT_EQ(all[9].letter_id, "NEW");
  const std::string file = files_.dir() + "/backlog.jsonl";
  ASSERT_THAT(utpost::testing::WriteStoreExport(store.get(), signer_.get(),
                                                file, "", 0),
              IsOk());
  auto report = cli::VerifyExport(file, kCa, "");
  std::remove(file.c_str());
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->faults.empty());
}

}  // namespace
}  // namespace utpost::store
