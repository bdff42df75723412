// Schema migrations of the PostgreSQL engine against a real server.
#include "gateway/store/pg_schema.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres_database_test.h"

namespace utpost::store::internal {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::testing::PostgresDatabaseTest;
using ::utpost::testing::StatusIs;

class PgSchemaTest : public PostgresDatabaseTest {
 protected:
  void SetUp() override {
    PostgresDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    pool_ = Pool();
    ASSERT_NE(pool_, nullptr);
  }

  std::unique_ptr<PgPool> Pool() {
    PgPool::Options o;
    o.connection.conninfo = ConnInfo();
    o.connection.password = Password();
    o.size = 2;
    auto pool = PgPool::Open(o);
    EXPECT_THAT(pool, IsOk());
    return pool.ok() ? *std::move(pool) : nullptr;
  }

  // The first column of the first row of `sql`, as an integer.
  int64_t Int(const std::string& sql) {
    auto lease = pool_->Acquire();
    EXPECT_THAT(lease, IsOk());
    if (!lease.ok()) return -1;
    auto r = (*lease)->Query(sql);
    EXPECT_THAT(r, IsOk()) << sql;
    return r.ok() && r->rows() > 0 ? r->Int(0, 0) : -1;
  }

  absl::Status Exec(const std::string& sql) {
    auto lease = pool_->Acquire();
    if (!lease.ok()) return lease.status();
    return (*lease)->Exec(sql);
  }

  std::unique_ptr<PgPool> pool_;
};

TEST_F(PgSchemaTest, MigratesAnEmptyDatabase) {
  const int latest = static_cast<int>(PgMigrations().size());
  ASSERT_GE(latest, 1);
  EXPECT_THAT(MigratePgSchema(*pool_), IsOkAndHolds(latest));
  EXPECT_EQ(Int("SELECT MAX(version) FROM schema_migrations"), latest);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM schema_migrations"), latest);
  // Every table of the SQLite engine, and the claim and cursor columns.
  for (const char* table :
       {"letters", "documents", "outbox", "receipts", "receipt_cursor",
        "timers", "provider_events", "receipt_log_leaves", "receipt_log_nodes",
        "receipt_log_heads", "purged_letters", "feed_positions",
        "failed_attempts", "paused_channels", "provider_stats"}) {
    EXPECT_EQ(Int(absl::StrCat("SELECT COUNT(*) FROM information_schema."
                               "tables WHERE table_name = '",
                               table, "'")),
              1)
        << table;
  }
  EXPECT_EQ(Int("SELECT COUNT(*) FROM information_schema.columns WHERE "
                "table_name IN ('outbox', 'timers') AND column_name IN "
                "('claimed_by', 'claim_until_ms')"),
            4);
  EXPECT_EQ(Int("SELECT last FROM receipt_cursor"), 0);
}

TEST_F(PgSchemaTest, ADatabaseAtVersion1GainsSheetCountsOfZero) {
  const std::vector<PgMigration> v1 = {PgMigrations()[0]};
  ASSERT_THAT(MigratePgSchema(*pool_, v1), IsOkAndHolds(1));
  ASSERT_THAT(Exec("INSERT INTO letters (id, tenant, client_reference, "
                   "request_digest, state, spec, create_time_ms, "
                   "update_time_ms) VALUES ('old', '964338531', 'r', 'd', 5, "
                   "'', 1, 1)"),
              IsOk());
  ASSERT_GE(PgMigrations().size(), 2u);
  EXPECT_THAT(MigratePgSchema(*pool_),
              IsOkAndHolds(static_cast<int>(PgMigrations().size())));
  EXPECT_EQ(Int("SELECT print_sheets FROM letters WHERE id = 'old'"), 0);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM schema_migrations WHERE version = 2 "
                "AND name LIKE '%print_sheets%'"),
            1);
  ASSERT_THAT(Exec("INSERT INTO letters (id, tenant, client_reference, "
                   "request_digest, state, spec, create_time_ms, "
                   "update_time_ms, print_sheets) VALUES ('new', '964338531', "
                   "'s', 'd', 1, '', 2, 2, 4)"),
              IsOk());
  EXPECT_EQ(Int("SELECT SUM(print_sheets) FROM letters"), 4);
}

TEST_F(PgSchemaTest, MigratingTwiceChangesNothing) {
  ASSERT_THAT(MigratePgSchema(*pool_), IsOk());
  ASSERT_THAT(Exec("INSERT INTO feed_positions VALUES ('f', 'p', 1)"), IsOk());
  int64_t applied =
      Int("SELECT (extract(epoch FROM applied_at) * 1000000)::bigint "
          "FROM schema_migrations WHERE version = 1");
  EXPECT_THAT(MigratePgSchema(*pool_),
              IsOkAndHolds(static_cast<int>(PgMigrations().size())));
  EXPECT_EQ(Int("SELECT COUNT(*) FROM schema_migrations"),
            static_cast<int64_t>(PgMigrations().size()));
  EXPECT_EQ(Int("SELECT (extract(epoch FROM applied_at) * 1000000)::bigint "
                "FROM schema_migrations WHERE version = 1"),
            applied);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM feed_positions"), 1);
}

TEST_F(PgSchemaTest, RefusesADatabaseNewerThanTheBuild) {
  ASSERT_THAT(MigratePgSchema(*pool_), IsOk());
  const int next = static_cast<int>(PgMigrations().size()) + 1;
  ASSERT_THAT(Exec(absl::StrCat("INSERT INTO schema_migrations (version, "
                                "name) VALUES (",
                                next, ", 'from the future')")),
              IsOk());
  EXPECT_THAT(MigratePgSchema(*pool_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(absl::StrCat("schema is version ", next,
                                              " (\"from the future\""))));
  EXPECT_THAT(MigratePgSchema(*pool_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("newer than this build's version")));
}

TEST_F(PgSchemaTest, AppliesOnlyTheMigrationsNotYetApplied) {
  std::vector<PgMigration> v1 = {{1, "a", "CREATE TABLE a (x INT)"}};
  std::vector<PgMigration> v2 = {
      {1, "a", "CREATE TABLE a (x INT)"},
      {2, "b", "CREATE TABLE b (y INT); INSERT INTO b VALUES (5)"}};
  EXPECT_THAT(MigratePgSchema(*pool_, v1), IsOkAndHolds(1));
  // Were 1 run again, CREATE TABLE a would fail.
  EXPECT_THAT(MigratePgSchema(*pool_, v2), IsOkAndHolds(2));
  EXPECT_EQ(Int("SELECT y FROM b"), 5);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM schema_migrations"), 2);
}

TEST_F(PgSchemaTest, AFailedMigrationAppliesNothing) {
  std::vector<PgMigration> bad = {{1, "a", "CREATE TABLE a (x INT)"},
                                  {2, "broken", "CREATE TABLE (oops"}};
  EXPECT_THAT(
      MigratePgSchema(*pool_, bad),
      StatusIs(absl::StatusCode::kInternal, HasSubstr("migration 2 (broken)")));
  EXPECT_EQ(Int("SELECT COUNT(*) FROM information_schema.tables "
                "WHERE table_name IN ('a', 'schema_migrations')"),
            0);
}

TEST_F(PgSchemaTest, RefusesMisnumberedMigrations) {
  std::vector<PgMigration> gap = {{1, "a", "SELECT 1"}, {3, "c", "SELECT 1"}};
  EXPECT_THAT(MigratePgSchema(*pool_, gap),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("numbered 3")));
}

TEST_F(PgSchemaTest, ProcessesStartingAtOnceMigrateOnce) {
  constexpr int kStarters = 6;
  std::vector<std::unique_ptr<PgPool>> pools;
  for (int i = 0; i < kStarters; ++i) pools.push_back(Pool());
  std::vector<absl::StatusOr<int>> results(kStarters, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStarters; ++i) {
    threads.emplace_back([&, i] { results[i] = MigratePgSchema(*pools[i]); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& r : results) {
    EXPECT_THAT(r, IsOkAndHolds(static_cast<int>(PgMigrations().size())));
  }
  EXPECT_EQ(Int("SELECT COUNT(*) FROM schema_migrations"),
            static_cast<int64_t>(PgMigrations().size()));
}

}  // namespace
}  // namespace utpost::store::internal
