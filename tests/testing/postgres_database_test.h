// A gtest fixture for tests against a real PostgreSQL server: one private
// server (PostgresServer) for each test suite, started before its first
// test and stopped after its last, and a fresh database for each test.
//
//   class MyTest : public utpost::testing::PostgresDatabaseTest {
//    protected:
//     void SetUp() override {
//       PostgresDatabaseTest::SetUp();
//       if (HasFatalFailure()) return;
//       ... open a pool or engine on ConnInfo() with Password() ...
//     }
//   };
#ifndef UTPOST_TESTS_TESTING_POSTGRES_DATABASE_TEST_H_
#define UTPOST_TESTS_TESTING_POSTGRES_DATABASE_TEST_H_

#include <string>

#include "gtest/gtest.h"
#include "tests/testing/postgres_server.h"

namespace utpost::testing {

class PostgresDatabaseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  // Creates this test's database ("db_<n>"); fails the test when the
  // suite's server did not start.
  void SetUp() override;

  PostgresServer& server() const { return *server_; }
  // This test's database.
  const std::string& database() const { return database_; }
  // libpq's connection string for the database, without the password.
  std::string ConnInfo() const {
    return server_->ConnInfoWithoutPassword(database_);
  }
  const std::string& Password() const { return server_->password(); }

 private:
  static PostgresServer* server_;
  std::string database_;
};

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_POSTGRES_DATABASE_TEST_H_
