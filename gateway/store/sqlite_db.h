// Internal to gateway/store: a thin layer over the SQLite C API with a
// statement cache and SQLite errors mapped to absl::Status. Not part of the
// store's interface; nothing outside gateway/store/ includes it.
#ifndef UTPOST_GATEWAY_STORE_SQLITE_DB_H_
#define UTPOST_GATEWAY_STORE_SQLITE_DB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace utpost::store::internal {

class Connection;

// A prepared statement borrowed from a connection's cache. Reset (and its
// bindings cleared) when destroyed, ready for the next user. Move-only; must
// not outlive its connection.
//
// Errors from binding are kept and reported by the next Step().
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Parameters count from 1, as in SQLite. Text and blob values are copied.
  void BindText(int i, std::string_view v);
  void BindBlob(int i, std::string_view v);
  // Does not copy: `v` must stay alive and unchanged until this statement is
  // destroyed. For document content, which may be large.
  void BindBlobNoCopy(int i, std::string_view v);
  void BindInt64(int i, int64_t v);
  void BindNull(int i);

  // Runs one step. True: a row is ready to read; false: done.
  absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows.
  absl::Status Run();

  bool ColumnIsNull(int i) const;
  int64_t ColumnInt64(int i) const;
  std::string ColumnText(int i) const;
  std::string ColumnBlob(int i) const;

 private:
  friend class Connection;
  Statement(Connection* conn, sqlite3_stmt* stmt, bool cached);
  void NoteBind(int rc);

  Connection* conn_;
  sqlite3_stmt* stmt_;
  bool cached_;  // False: prepared for this use only, finalized at the end.
  int bind_rc_ = 0;
};

// One SQLite connection. Not thread-safe: one thread at a time, which the
// store guarantees (a writer mutex, a pool of readers).
class Connection {
 public:
  enum class Mode { kWriter, kReader };
  // kWriter creates the file if needed and switches it to WAL with
  // synchronous=FULL and foreign keys; kReader opens an existing database
  // with query_only set. Both wait up to `busy_timeout_ms` for locks.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path, Mode mode, int busy_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs SQL text without parameters or results (may hold several
  // statements).
  absl::Status Exec(const char* sql);
  // A statement for `sql`, from the cache when it is not already in use.
  absl::StatusOr<Statement> Prepare(const std::string& sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const;
  // True while a transaction is open.
  bool InTransaction() const;
  // Rolls back the open transaction, if any. Errors are ignored: SQLite
  // may already have rolled it back itself.
  void RollbackQuietly();

  // Set when a SQLite call failed for any reason other than a constraint:
  // the transaction may be gone and must be abandoned as a whole.
  bool broken() const { return broken_; }
  void clear_broken() { broken_ = false; }

  // The status for SQLite result `rc`; marks the connection broken unless it
  // is a constraint violation (ALREADY_EXISTS). Busy, locked and I/O errors
  // are UNAVAILABLE, corruption is DATA_LOSS, misuse is INTERNAL.
  absl::Status Error(int rc, std::string_view what);

 private:
  friend class Statement;
  explicit Connection(sqlite3* db) : db_(db) {}
  void Return(sqlite3_stmt* stmt);

  sqlite3* db_;
  struct CacheEntry {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  std::unordered_map<std::string, CacheEntry> cache_;
  // Looked up by statement when one is returned to the cache.
  std::unordered_map<sqlite3_stmt*, CacheEntry*> by_stmt_;
  bool broken_ = false;
};

}  // namespace utpost::store::internal

#endif  // UTPOST_GATEWAY_STORE_SQLITE_DB_H_
