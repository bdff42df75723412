#include "gateway/store/sqlite_db.h"

#include <sqlite3.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace utpost::store::internal {

Statement::Statement(Connection* conn, sqlite3_stmt* stmt, bool cached)
    : conn_(conn), stmt_(stmt), cached_(cached) {}

Statement::Statement(Statement&& other) noexcept
    : conn_(other.conn_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      cached_(other.cached_),
      bind_rc_(other.bind_rc_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (cached_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    conn_->Return(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

void Statement::NoteBind(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::BindText(int i, std::string_view v) {
  NoteBind(sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8));
}

void Statement::BindBlob(int i, std::string_view v) {
  NoteBind(sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT));
}

void Statement::BindBlobNoCopy(int i, std::string_view v) {
  NoteBind(sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_STATIC));
}

void Statement::BindInt64(int i, int64_t v) {
  NoteBind(sqlite3_bind_int64(stmt_, i, v));
}

void Statement::BindNull(int i) { NoteBind(sqlite3_bind_null(stmt_, i)); }

absl::StatusOr<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) return conn_->Error(bind_rc_, "bind");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->Error(rc, sqlite3_sql(stmt_));
}

absl::Status Statement::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  // Statements run this way return no rows; finish one that does anyway.
  while (row) {
    ASSIGN_OR_RETURN(row, Step());
  }
  return absl::OkStatus();
}

bool Statement::ColumnIsNull(int i) const {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

int64_t Statement::ColumnInt64(int i) const {
  return sqlite3_column_int64(stmt_, i);
}

std::string Statement::ColumnText(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  int n = sqlite3_column_bytes(stmt_, i);
  return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(n));
}

std::string Statement::ColumnBlob(int i) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
  int n = sqlite3_column_bytes(stmt_, i);
  return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(n));
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& path, Mode mode, int busy_timeout_ms) {
  // NOMUTEX: the store never shares a connection between threads at once,
  // so SQLite's own per-connection mutex would only cost time.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (mode == Mode::kWriter) flags |= SQLITE_OPEN_CREATE;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return absl::UnavailableError(
        absl::StrCat("sqlite: cannot open ", path, ": ", msg));
  }
  auto conn = std::unique_ptr<Connection>(new Connection(db));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  if (mode == Mode::kWriter) {
    RETURN_IF_ERROR(conn->Exec("PRAGMA journal_mode=WAL"));
    ASSIGN_OR_RETURN(Statement check, conn->Prepare("PRAGMA journal_mode"));
    ASSIGN_OR_RETURN(bool row, check.Step());
    if (!row || check.ColumnText(0) != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "sqlite: ", path, " cannot use write-ahead logging (journal_mode ",
          row ? check.ColumnText(0) : "unknown", ")"));
    }
    RETURN_IF_ERROR(
        conn->Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"));
  } else {
    RETURN_IF_ERROR(conn->Exec("PRAGMA query_only=ON"));
  }
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, entry] : cache_) sqlite3_finalize(entry.stmt);
  sqlite3_close_v2(db_);
}

absl::Status Connection::Exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, sql);
  return absl::OkStatus();
}

absl::StatusOr<Statement> Connection::Prepare(const std::string& sql) {
  auto [it, inserted] = cache_.try_emplace(sql);
  CacheEntry& entry = it->second;
  if (!inserted && !entry.in_use) {
    entry.in_use = true;
    return Statement(this, entry.stmt, /*cached=*/true);
  }
  // A new statement, or the cached one is busy in an enclosing loop: the
  // latter gets a private copy for this use.
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              inserted ? SQLITE_PREPARE_PERSISTENT : 0, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    if (inserted) cache_.erase(it);
    return Error(rc, sql);
  }
  if (!inserted) return Statement(this, stmt, /*cached=*/false);
  entry.stmt = stmt;
  entry.in_use = true;
  by_stmt_[stmt] = &entry;
  return Statement(this, stmt, /*cached=*/true);
}

void Connection::Return(sqlite3_stmt* stmt) {
  auto it = by_stmt_.find(stmt);
  if (it != by_stmt_.end()) it->second->in_use = false;
}

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

bool Connection::InTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

void Connection::RollbackQuietly() {
  if (InTransaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

absl::Status Connection::Error(int rc, std::string_view what) {
  // Debian's abseil has its own string_view type.
  std::string_view head = what.substr(0, 120);
  std::string msg = absl::StrCat(
      "sqlite: ", sqlite3_errmsg(db_), " (", sqlite3_errstr(rc), ", code ", rc,
      ") in: ", absl::string_view(head.data(), head.size()));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      broken_ = true;
      return absl::DataLossError(msg);
    case SQLITE_ERROR:
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      broken_ = true;
      return absl::InternalError(msg);
    default:
      // Busy, locked, I/O, full disk, out of memory: the commit cannot
      // happen now, and may later.
      broken_ = true;
      return absl::UnavailableError(msg);
  }
}

}  // namespace utpost::store::internal
