// The libpq layer against a real PostgreSQL server (one per test binary,
// one database per test).
#include "gateway/store/pg_db.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres_database_test.h"

namespace utpost::store::internal {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::PostgresDatabaseTest;
using ::utpost::testing::StatusIs;

class PgDbTest : public PostgresDatabaseTest {
 protected:
  void SetUp() override {
    PostgresDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
  }

  PgConnection::Options ConnOptions() const {
    PgConnection::Options o;
    o.conninfo = ConnInfo();
    o.password = Password();
    return o;
  }

  std::unique_ptr<PgPool> Pool(int size = 4) {
    PgPool::Options o;
    o.connection = ConnOptions();
    o.size = size;
    o.acquire_timeout = absl::Milliseconds(300);
    auto pool = PgPool::Open(o);
    EXPECT_THAT(pool, IsOk());
    return pool.ok() ? *std::move(pool) : nullptr;
  }

  std::unique_ptr<PgConnection> Connect() {
    auto conn = PgConnection::Open(ConnOptions());
    EXPECT_THAT(conn, IsOk());
    return conn.ok() ? *std::move(conn) : nullptr;
  }

  // Ends the session of `victim` from another connection, as a server
  // restart or a network cut would.
  void Terminate(const PgConnection& victim) {
    auto killer = Connect();
    ASSERT_NE(killer, nullptr);
    PgParams p;
    p.Int(victim.backend_pid());
    auto r = killer->Query("SELECT pg_terminate_backend($1::int)", p);
    ASSERT_THAT(r, IsOk());
  }
};

TEST_F(PgDbTest, ParametersAndResultsRoundTrip) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  std::string binary("a\0b\xff\x01", 5);
  PgParams p;
  p.Text("h\xc3\xa6lla").Bytes(binary).Int(-9007199254740993).Bool(true);
  p.NullInt().NullText().Int(7).IntArray({1, 2, 3});
  auto r = conn->Query(
      "SELECT $1, $2, $3, $4, $5, $6, $7::int, $7::int2, "
      "2 = ANY($8), 4 = ANY($8), ''::bytea",
      p);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->rows(), 1);
  EXPECT_EQ(r->Text(0, 0), "h\xc3\xa6lla");
  EXPECT_EQ(r->Bytes(0, 1), binary);
  EXPECT_EQ(r->Int(0, 2), -9007199254740993);
  EXPECT_EQ(r->Int(0, 3), 1);
  EXPECT_TRUE(r->IsNull(0, 4));
  EXPECT_TRUE(r->IsNull(0, 5));
  EXPECT_EQ(r->Int(0, 6), 7);  // int4
  EXPECT_EQ(r->Int(0, 7), 7);  // int2
  EXPECT_EQ(r->Int(0, 8), 1);
  EXPECT_EQ(r->Int(0, 9), 0);
  EXPECT_FALSE(r->IsNull(0, 10));
  EXPECT_EQ(r->Bytes(0, 10), "");
  PgParams texts;
  texts.TextArray({"a\"b", "c\\d", "", "NULL", "{x,y}"});
  auto arr = conn->Query(
      "SELECT array_length($1, 1), $1[1], $1[2], $1[3], $1[4] IS NULL, $1[5]",
      texts);
  ASSERT_THAT(arr, IsOk());
  EXPECT_EQ(arr->Int(0, 0), 5);
  EXPECT_EQ(arr->Text(0, 1), "a\"b");
  EXPECT_EQ(arr->Text(0, 2), "c\\d");
  EXPECT_EQ(arr->Text(0, 3), "");
  EXPECT_EQ(arr->Int(0, 4), 0);  // Quoted "NULL" is a string.
  EXPECT_EQ(arr->Text(0, 5), "{x,y}");
  PgParams neg;
  neg.Int(-2);
  auto small = conn->Query("SELECT $1::int, $1::int2", neg);
  ASSERT_THAT(small, IsOk());
  EXPECT_EQ(small->Int(0, 0), -2);
  EXPECT_EQ(small->Int(0, 1), -2);
}

TEST_F(PgDbTest, PreparedStatementsAreReusedAndCountRows) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_THAT(conn->Exec("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT)"),
              IsOk());
  for (int i = 0; i < 5; ++i) {
    PgParams p;
    p.Text(absl::StrCat("k", i)).Int(i);
    EXPECT_THAT(conn->Command("INSERT INTO t VALUES ($1, $2)", p),
                ::utpost::testing::IsOkAndHolds(1));
  }
  PgParams p;
  p.Int(2);
  EXPECT_THAT(conn->Command("UPDATE t SET v = v + 1 WHERE v >= $1", p),
              ::utpost::testing::IsOkAndHolds(3));
  // A document-sized value passed by reference.
  std::string big(3 << 20, 'x');
  ASSERT_THAT(conn->Exec("CREATE TABLE b (v BYTEA)"), IsOk());
  PgParams bp;
  bp.BytesRef(big);
  ASSERT_THAT(conn->Command("INSERT INTO b VALUES ($1)", bp), IsOk());
  auto r = conn->Query("SELECT v FROM b");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->Bytes(0, 0), big);
}

TEST_F(PgDbTest, ErrorsMapToStatusCodes) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_THAT(conn->Exec("CREATE TABLE t (k TEXT PRIMARY KEY, "
                         "n INT CHECK (n > 0))"),
              IsOk());
  PgParams p;
  p.Text("a");
  ASSERT_THAT(conn->Command("INSERT INTO t VALUES ($1, 1)", p), IsOk());
  EXPECT_THAT(conn->Command("INSERT INTO t VALUES ($1, 1)", p),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("23505")));
  PgParams q;
  q.Text("b");
  EXPECT_THAT(
      conn->Command("INSERT INTO t VALUES ($1, -1)", q),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("23514")));
  EXPECT_THAT(conn->Query("SELECT * FROM missing"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("42P01")));
  EXPECT_THAT(conn->Query("SELECT 1/0"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("22012")));
  // Raised codes go through the same table.
  EXPECT_THAT(conn->Exec("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = "
                         "'40001'; END $$"),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("40001")));
  EXPECT_THAT(
      conn->Exec("SET statement_timeout = 50; SELECT pg_sleep(2)"),
      StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("57014")));
  // The connection is still good after all of these.
  EXPECT_TRUE(conn->healthy());
  EXPECT_THAT(conn->Query("SELECT 1"), IsOk());
}

TEST(PgErrorStatusTest, MapsSqlStates) {
  EXPECT_TRUE(absl::IsAborted(PgErrorStatus("40P01", false, "")));
  EXPECT_TRUE(absl::IsUnavailable(PgErrorStatus("53100", false, "disk")));
  EXPECT_TRUE(absl::IsUnavailable(PgErrorStatus("53300", false, "")));
  EXPECT_TRUE(absl::IsUnavailable(PgErrorStatus("08006", false, "")));
  EXPECT_TRUE(absl::IsUnavailable(PgErrorStatus("57P01", false, "")));
  EXPECT_TRUE(absl::IsDataLoss(PgErrorStatus("XX001", false, "")));
  EXPECT_TRUE(absl::IsUnavailable(PgErrorStatus(nullptr, true, "")));
  EXPECT_TRUE(absl::IsInternal(PgErrorStatus(nullptr, false, "")));
}

TEST_F(PgDbTest, WrongPasswordIsUnavailableWithTheReason) {
  PgConnection::Options o = ConnOptions();
  o.password = "wrong";
  EXPECT_THAT(PgConnection::Open(o),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("password authentication failed")));
}

TEST_F(PgDbTest, LostConnectionIsUnavailableAndThePoolReconnects) {
  auto pool = Pool(1);
  ASSERT_NE(pool, nullptr);
  {
    auto lease = pool->Acquire();
    ASSERT_THAT(lease, IsOk());
    Terminate(**lease);
    EXPECT_THAT((*lease)->Query("SELECT 1"),
                StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
    EXPECT_FALSE((*lease)->healthy());
  }
  // The dead connection was dropped; the next one is new and works.
  auto lease = pool->Acquire();
  ASSERT_THAT(lease, IsOk());
  EXPECT_TRUE((*lease)->healthy());
  EXPECT_THAT((*lease)->Query("SELECT 1"), IsOk());
  EXPECT_EQ(pool->open_connections(), 1);
}

TEST_F(PgDbTest, PoolIsBounded) {
  auto pool = Pool(2);
  ASSERT_NE(pool, nullptr);
  auto a = pool->Acquire();
  auto b = pool->Acquire();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(pool->Acquire(),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("busy")));
  // One returned: the waiter gets it.
  std::thread returner([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto gone = std::move(*a);
  });
  auto c = pool->Acquire();
  returner.join();
  EXPECT_THAT(c, IsOk());
  EXPECT_EQ(pool->open_connections(), 2);
}

TEST_F(PgDbTest, TransactionCommitsOrRollsBack) {
  auto pool = Pool();
  ASSERT_NE(pool, nullptr);
  ASSERT_THAT(RunPgTransaction(*pool, PgTxMode::kWrite,
                               [](PgConnection& c) {
                                 return c.Exec("CREATE TABLE t (v INT)");
                               }),
              IsOk());
  EXPECT_THAT(
      RunPgTransaction(*pool, PgTxMode::kWrite,
                       [](PgConnection& c) -> absl::Status {
                         absl::Status s = c.Exec("INSERT INTO t VALUES (1)");
                         if (!s.ok()) return s;
                         return absl::NotFoundError("changed my mind");
                       }),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("changed my mind")));
  ASSERT_THAT(RunPgTransaction(*pool, PgTxMode::kWrite,
                               [](PgConnection& c) {
                                 return c.Exec("INSERT INTO t VALUES (2)");
                               }),
              IsOk());
  int64_t sum = -1;
  ASSERT_THAT(RunPgTransaction(*pool, PgTxMode::kReadSnapshot,
                               [&](PgConnection& c) -> absl::Status {
                                 auto r = c.Query(
                                     "SELECT COALESCE(SUM(v), 0)::bigint "
                                     "FROM t");
                                 if (!r.ok()) return r.status();
                                 sum = r->Int(0, 0);
                                 return absl::OkStatus();
                               }),
              IsOk());
  EXPECT_EQ(sum, 2);
  // A snapshot transaction is read-only.
  EXPECT_THAT(RunPgTransaction(*pool, PgTxMode::kReadSnapshot,
                               [](PgConnection& c) {
                                 return c.Exec("INSERT INTO t VALUES (3)");
                               }),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("25006")));
}

TEST_F(PgDbTest, TransactionIsRetriedAfterTheConnectionIsLost) {
  auto pool = Pool(2);
  ASSERT_NE(pool, nullptr);
  ASSERT_THAT(pool->Acquire().value()->Exec("CREATE TABLE t (v INT)"), IsOk());
  int runs = 0;
  absl::Status s =
      RunPgTransaction(*pool, PgTxMode::kWrite, [&](PgConnection& c) {
        ++runs;
        absl::Status w = c.Exec("INSERT INTO t VALUES (1)");
        if (w.ok() && runs == 1) {
          Terminate(c);
          // The next statement finds the session gone.
          w = c.Exec("INSERT INTO t VALUES (1)");
        }
        return w;
      });
  EXPECT_THAT(s, IsOk());
  EXPECT_EQ(runs, 2);
  auto r = pool->Acquire().value()->Query("SELECT COUNT(*) FROM t");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->Int(0, 0), 1);  // The lost attempt left nothing.
}

TEST_F(PgDbTest, DeadlockedTransactionIsRetried) {
  auto pool = Pool(4);
  ASSERT_NE(pool, nullptr);
  ASSERT_THAT(pool->Acquire().value()->Exec(
                  "CREATE TABLE t (k INT PRIMARY KEY, v INT); "
                  "INSERT INTO t VALUES (1, 0), (2, 0)"),
              IsOk());
  // Two transactions lock rows 1 and 2 in opposite orders; the server
  // aborts one (40P01) and RunPgTransaction runs it again.
  std::atomic<int> runs{0};
  std::atomic<int> first_locks{0};
  auto body = [&](int first, int second) {
    return [&, first, second](PgConnection& c) -> absl::Status {
      ++runs;
      PgParams a;
      a.Int(first);
      absl::Status s =
          c.Command("UPDATE t SET v = v + 1 WHERE k = $1::int", a).status();
      if (!s.ok()) return s;
      ++first_locks;
      while (first_locks.load() < 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      PgParams b;
      b.Int(second);
      return c.Command("UPDATE t SET v = v + 1 WHERE k = $1::int", b).status();
    };
  };
  absl::Status s1, s2;
  std::thread t1(
      [&] { s1 = RunPgTransaction(*pool, PgTxMode::kWrite, body(1, 2)); });
  std::thread t2(
      [&] { s2 = RunPgTransaction(*pool, PgTxMode::kWrite, body(2, 1)); });
  t1.join();
  t2.join();
  EXPECT_THAT(s1, IsOk());
  EXPECT_THAT(s2, IsOk());
  EXPECT_EQ(runs.load(), 3);
  auto r = pool->Acquire().value()->Query("SELECT SUM(v)::bigint FROM t");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->Int(0, 0), 4);
}

TEST_F(PgDbTest, PoolSurvivesAServerRestart) {
  auto pool = Pool(2);
  ASSERT_NE(pool, nullptr);
  ASSERT_THAT(RunPgTransaction(*pool, PgTxMode::kWrite,
                               [](PgConnection& c) {
                                 return c.Exec("CREATE TABLE t (v INT)");
                               }),
              IsOk());
  ASSERT_THAT(server().Restart(), IsOk());
  // The idle connection is dead; the transaction notices at BEGIN and
  // runs again on a new one.
  EXPECT_THAT(RunPgTransaction(*pool, PgTxMode::kWrite,
                               [](PgConnection& c) {
                                 return c.Exec("INSERT INTO t VALUES (1)");
                               }),
              IsOk());
}

}  // namespace
}  // namespace utpost::store::internal
