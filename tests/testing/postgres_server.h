// A private PostgreSQL server for tests: a cluster made with initdb in a
// temporary folder, listening on 127.0.0.1 only, on a free port, with its
// Unix socket in that folder, stopped and removed when the object goes.
//
//   absl::StatusOr<std::unique_ptr<PostgresServer>> pg =
//   PostgresServer::Start(); ASSERT_TRUE(pg.ok()) << pg.status(); std::string
//   conninfo = (*pg)->ConnInfo("utpost");
//
// The cluster has one superuser, "utpost", with a random password; the
// password authenticates over TCP (scram-sha-256) and the conninfo carries
// it. A database "utpost" exists from the start; CreateDatabase() makes more
// (one per test keeps tests apart at the cost of about 0.1 s each).
//
// Durability: the server runs with fsync on, as in production, so that the
// tests see the commit costs a real deployment pays. Only initdb itself runs
// with --no-sync: a cluster made and used within one test run never needs
// its initial files on disk before the first checkpoint.
//
// Root: initdb and postgres refuse to run as root, so a root test process
// (CI) runs them as the user UTPOST_PG_USER (default "postgres", the system
// user Debian's postgresql package creates) through setpriv, and hands that
// user the folder. The folder is made under TMPDIR (default /tmp), which
// that user must be able to enter.
//
// Binaries: UTPOST_PG_BINDIR if set, else the newest
// /usr/lib/postgresql/<major>/bin (Debian), else initdb and postgres on PATH.
//
// Starting takes about 1-3 s: start one per test suite. Not thread-safe:
// call it from one thread (clients on other threads may keep running).
#ifndef UTPOST_TESTS_TESTING_POSTGRES_SERVER_H_
#define UTPOST_TESTS_TESTING_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace utpost::testing {

class PostgresServer {
 public:
  // Makes the cluster and returns once the server accepts connections.
  // Should the server fail to start (a port found free taken meanwhile),
  // tries again with another port. Errors carry the tail of the server log.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();

  // Stops the server (fast shutdown, then immediate, then SIGKILL) and
  // removes its folder (kept when UTPOST_KEEP_PG_DIR is set).
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // The TCP port on 127.0.0.1.
  int port() const { return port_; }
  // The cluster's folder: data/ (PGDATA), server.log, the socket.
  const std::string& dir() const { return dir_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }

  // A libpq connection string for `dbname` over TCP, password included
  // ("host=127.0.0.1 port=... dbname=... user=utpost password=...").
  std::string ConnInfo(std::string_view dbname = "utpost") const;
  // The same without the password, for code that takes it separately.
  std::string ConnInfoWithoutPassword(std::string_view dbname = "utpost") const;

  // CREATE DATABASE `name` (letters, digits and '_' only).
  absl::Status CreateDatabase(std::string_view name);

  // Stops the server; the data stays, so Restart() brings it back with every
  // committed row. Stopping a stopped server is OK. `immediate` stops it as
  // a crash would (no checkpoint; recovery replays the WAL at the next
  // start).
  absl::Status Stop(bool immediate = false);
  // Stops the server if running, then starts it again on the same port.
  absl::Status Restart();
  bool running() const { return pid_ > 0; }

 private:
  PostgresServer(std::string bindir, std::string dir, std::string user,
                 std::string password, int port)
      : bindir_(std::move(bindir)),
        dir_(std::move(dir)),
        user_(std::move(user)),
        password_(std::move(password)),
        port_(port) {}

  absl::Status InitCluster();
  absl::Status StartServer();
  std::string LogTail() const;

  const std::string bindir_;
  const std::string dir_;
  const std::string user_;
  const std::string password_;
  int port_;
  // The postmaster, a child of this process; 0 when stopped.
  pid_t pid_ = 0;
};

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_POSTGRES_SERVER_H_
