// Internal to gateway/store: a thin layer over libpq with parameterised,
// prepared statements, binary results, PostgreSQL errors mapped to
// absl::Status, a small connection pool and transactions that are retried
// when the server asks for it. Not part of the store's interface; nothing
// outside gateway/store/ includes it.
//
// Errors (by SQLSTATE class):
//   40001 serialization failure, 40P01 deadlock  -> ABORTED (retry the
//                                                   whole transaction)
//   23505 unique violation                        -> ALREADY_EXISTS
//   other 23 (integrity)                          -> FAILED_PRECONDITION
//   08 (connection), 57P01-57P03 (shutdown), 53 (resources: disk full, too
//   many connections), a lost connection          -> UNAVAILABLE
//   57014 query cancelled (statement_timeout)     -> DEADLINE_EXCEEDED
//   22 (data exception)                           -> INVALID_ARGUMENT
//   XX001, XX002 (corrupted data or index)        -> DATA_LOSS
//   anything else (syntax, undefined table ...)   -> INTERNAL
#ifndef UTPOST_GATEWAY_STORE_PG_DB_H_
#define UTPOST_GATEWAY_STORE_PG_DB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct pg_conn;
struct pg_result;

namespace utpost::store::internal {

// The parameters of one statement, $1 first. Each is sent with its type
// (text, bytea, int8, bool, int8[], text[]) so that the server needs no guess.
// Text and integers travel as text, bytea as binary.
class PgParams {
 public:
  PgParams() = default;
  PgParams(const PgParams&) = delete;
  PgParams& operator=(const PgParams&) = delete;

  PgParams& Text(std::string_view v);
  // Copied.
  PgParams& Bytes(std::string_view v);
  // Not copied: `v` must stay alive until the statement has run. For
  // document content, which may be large.
  PgParams& BytesRef(std::string_view v);
  PgParams& Int(int64_t v);
  PgParams& Bool(bool v);
  PgParams& IntArray(const std::vector<int64_t>& v);
  PgParams& TextArray(const std::vector<std::string>& v);
  // NULL of the given kind (for nullable columns).
  PgParams& NullInt();
  PgParams& NullText();

  size_t size() const { return params_.size(); }

 private:
  friend class PgConnection;
  struct Param {
    unsigned int type = 0;  // Oid.
    int format = 0;         // 0 text, 1 binary.
    bool null = false;
    std::string owned;
    std::string_view ref;  // When set, used instead of `owned`.
  };
  std::vector<Param> params_;
};

// The rows of one statement, in binary format. Move-only.
class PgResult {
 public:
  PgResult() = default;
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  int columns() const;
  // Rows inserted, updated or deleted (0 for other statements).
  int64_t affected() const;
  // "INSERT 0 1", "COMMIT", "ROLLBACK", ...
  std::string command_tag() const;

  bool IsNull(int row, int col) const;
  // int2, int4, int8 and bool columns; 0 for NULL.
  int64_t Int(int row, int col) const;
  // text and bytea columns, as stored; empty for NULL.
  std::string Bytes(int row, int col) const;
  std::string Text(int row, int col) const { return Bytes(row, col); }

 private:
  friend class PgConnection;
  explicit PgResult(pg_result* res) : res_(res) {}
  pg_result* res_ = nullptr;
};

// One session with the server. Not thread-safe: one thread at a time (the
// pool hands a connection to one user at a time).
class PgConnection {
 public:
  struct Options {
    // A libpq connection string or URI.
    std::string conninfo;
    // When not empty, overrides any password in `conninfo`.
    std::string password;
    // Used unless `conninfo` sets connect_timeout.
    int connect_timeout_s = 10;
    // Reported in pg_stat_activity unless `conninfo` sets one.
    std::string application_name = "utpost";
  };

  // UNAVAILABLE when the server cannot be reached or refuses the login.
  // TCP keepalives are on (30 s idle, 10 s apart, 3 probes) unless
  // `conninfo` says otherwise.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Open(
      const Options& options);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs SQL text without parameters; it may hold several statements.
  absl::Status Exec(std::string_view sql);
  // Runs one statement, prepared on this connection the first time its text
  // is seen and reused after that.
  absl::StatusOr<PgResult> Query(const std::string& sql,
                                 const PgParams& params);
  absl::StatusOr<PgResult> Query(const std::string& sql) {
    return Query(sql, PgParams());
  }
  // As Query, for statements whose rows are not needed: returns the number
  // of rows changed.
  absl::StatusOr<int64_t> Command(const std::string& sql,
                                  const PgParams& params);

  // False once the session is lost; the pool replaces such connections.
  bool healthy() const;
  // True while a transaction is open (or failed and not yet rolled back).
  bool InTransaction() const;
  // Rolls back the open transaction, if any; errors are ignored.
  void RollbackQuietly();
  // The server's process id for this session (pg_terminate_backend).
  int backend_pid() const;

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  absl::Status ResultStatus(pg_result* res, std::string_view what);

  pg_conn* conn_;
  // Statement text -> prepared statement name.
  std::unordered_map<std::string, std::string> prepared_;
};

// The status for a failed statement: from its SQLSTATE when it has one,
// else UNAVAILABLE when the connection is gone, else INTERNAL.
absl::Status PgErrorStatus(const char* sqlstate, bool connection_lost,
                           std::string_view message);

// A bounded pool of connections to one database. Thread-safe. Connections
// are opened when needed, up to `size`; a connection that lost its session
// is dropped when returned and a new one opened the next time.
class PgPool {
 public:
  struct Options {
    PgConnection::Options connection;
    // Most connections open at once. Default 8.
    int size = 8;
    // How long Acquire waits for a free connection.
    absl::Duration acquire_timeout = absl::Seconds(30);
  };

  // A connection borrowed from the pool, returned when destroyed. An open
  // transaction is rolled back on return.
  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : pool_(other.pool_), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConnection* operator->() const { return conn_.get(); }
    PgConnection& operator*() const { return *conn_; }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<PgConnection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  // Opens the first connection, so that a wrong conninfo or password fails
  // here. INVALID_ARGUMENT for a size below 1.
  static absl::StatusOr<std::unique_ptr<PgPool>> Open(const Options& options);
  ~PgPool();

  // A healthy connection: an idle one, a new one while fewer than `size`
  // are open, else the next one returned. UNAVAILABLE when none can be
  // opened, DEADLINE_EXCEEDED when none came free within acquire_timeout.
  absl::StatusOr<Lease> Acquire();
  // Opens a connection outside the pool (for a session-long advisory lock).
  absl::StatusOr<std::unique_ptr<PgConnection>> OpenDedicated();

  // Connections open now (idle or lent).
  int open_connections() const;

 private:
  explicit PgPool(const Options& options) : options_(options) {}
  void Return(std::unique_ptr<PgConnection> conn);

  const Options options_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

enum class PgTxMode {
  // READ COMMITTED, read-write: writers lock the rows they change.
  kWrite,
  // REPEATABLE READ, READ ONLY: every read sees one snapshot.
  kReadSnapshot,
};

// Runs `fn` inside one transaction on a pooled connection and commits it
// when `fn` returns OK (a failed `fn` rolls back and its status is
// returned). Retried from the start, on a new connection when needed, up to
// `max_attempts` times in all, when the server aborts it (serialization
// failure, deadlock) or the connection is lost before COMMIT is sent: `fn`
// must be safe to run again. When the connection is lost during COMMIT, the
// transaction's fate is read back on a new connection (pg_xact_status):
// committed is OK, anything else UNAVAILABLE with nothing committed, unless
// the server cannot be reached to ask (UNAVAILABLE, outcome unknown; the
// message says so).
absl::Status RunPgTransaction(
    PgPool& pool, PgTxMode mode,
    const std::function<absl::Status(PgConnection&)>& fn, int max_attempts = 5);

}  // namespace utpost::store::internal

#endif  // UTPOST_GATEWAY_STORE_PG_DB_H_
