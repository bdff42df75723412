#include "tests/testing/postgres_database_test.h"

#include <memory>

#include "absl/strings/str_cat.h"

namespace utpost::testing {

PostgresServer* PostgresDatabaseTest::server_ = nullptr;

void PostgresDatabaseTest::SetUpTestSuite() {
  absl::StatusOr<std::unique_ptr<PostgresServer>> server =
      PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = server->release();
}

void PostgresDatabaseTest::TearDownTestSuite() {
  delete server_;
  server_ = nullptr;
}

void PostgresDatabaseTest::SetUp() {
  ASSERT_NE(server_, nullptr) << "the suite's PostgreSQL server did not start";
  static int databases = 0;
  database_ = absl::StrCat("db_", ++databases);
  absl::Status created = server_->CreateDatabase(database_);
  ASSERT_TRUE(created.ok()) << created;
}

}  // namespace utpost::testing
