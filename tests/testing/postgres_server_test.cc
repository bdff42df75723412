#include "tests/testing/postgres_server.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace utpost::testing {
namespace {

// Runs `sql` on a fresh connection; returns the first value of the first
// row, or "error: ..." for a failed connection or query.
std::string QueryOne(const std::string& conninfo, const char* sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    out = std::string("error: ") + PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
      out = PQgetvalue(res, 0, 0);
    } else {
      out = std::string("error: ") + PQresultErrorMessage(res);
    }
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

TEST(PostgresServerTest, StartsAcceptsConnectionsAndStops) {
  auto server = PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  PostgresServer& pg = **server;
  EXPECT_GT(pg.port(), 0);
  EXPECT_EQ(QueryOne(pg.ConnInfo(), "SELECT current_database()"), "utpost");
  // Durability as in production.
  EXPECT_EQ(QueryOne(pg.ConnInfo(), "SHOW fsync"), "on");
  EXPECT_EQ(QueryOne(pg.ConnInfo(), "SHOW listen_addresses"), "127.0.0.1");

  // A wrong password is refused: the password is what lets clients in.
  std::string wrong = pg.ConnInfoWithoutPassword() + " password=wrong";
  EXPECT_EQ(QueryOne(wrong, "SELECT 1").rfind("error: ", 0), 0u);

  std::string dir = pg.dir();
  ASSERT_TRUE(pg.Stop().ok());
  EXPECT_FALSE(pg.running());
  EXPECT_EQ(PQping(pg.ConnInfo().c_str()), PQPING_NO_RESPONSE);
  server->reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(PostgresServerTest, RestartKeepsCommittedRows) {
  auto server = PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  PostgresServer& pg = **server;
  ASSERT_TRUE(pg.CreateDatabase("kept").ok());
  std::string conninfo = pg.ConnInfo("kept");
  EXPECT_EQ(QueryOne(conninfo,
                     "CREATE TABLE t (v INT); INSERT INTO t VALUES (7); "
                     "SELECT 'done'"),
            "done");
  // A crash (immediate stop) loses no committed row.
  ASSERT_TRUE(pg.Stop(/*immediate=*/true).ok());
  ASSERT_TRUE(pg.Restart().ok());
  EXPECT_EQ(QueryOne(conninfo, "SELECT v FROM t"), "7");
}

TEST(PostgresServerTest, RefusesBadDatabaseName) {
  auto server = PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_FALSE((*server)->CreateDatabase("x; DROP DATABASE utpost").ok());
  EXPECT_EQ(QueryOne((*server)->ConnInfo(), "SELECT 1"), "1");
}

TEST(PostgresServerTest, TwoServersRunSideBySide) {
  auto a = PostgresServer::Start();
  auto b = PostgresServer::Start();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE((*a)->port(), (*b)->port());
  EXPECT_EQ(QueryOne((*a)->ConnInfo(), "SELECT 1"), "1");
  EXPECT_EQ(QueryOne((*b)->ConnInfo(), "SELECT 2"), "2");
}

}  // namespace
}  // namespace utpost::testing
