// The SQLite engine: one database file for one gateway process (or several
// processes on one machine).
#ifndef UTPOST_GATEWAY_STORE_SQLITE_ENGINE_H_
#define UTPOST_GATEWAY_STORE_SQLITE_ENGINE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/store/engine.h"

namespace utpost::store {

struct SqliteEngineOptions {
  // Database file; created with the schema when missing. A file path, not
  // ":memory:" (readers use their own connections to the same file).
  std::string path;
  // How long a statement waits for a lock held by another process (for
  // example utpostctl reading the same file) before UNAVAILABLE.
  int busy_timeout_ms = 5000;
  // Most read connections open at once; further readers wait for one.
  int max_readers = 8;
};

// Opens (or creates) the database at `options.path` and brings its schema
// up to this build's version (forward-only migrations, each in its own
// transaction): write-ahead log, synchronous=FULL (every commit is on disk
// when Write returns), foreign keys on. INVALID_ARGUMENT for missing
// options, UNAVAILABLE when the file cannot be opened, FAILED_PRECONDITION
// when its schema is newer than this build.
//
// Writes from concurrent callers are committed together: one caller commits
// every write waiting at that moment in one transaction (one fsync), each in
// its own savepoint; a lone write is not delayed. Reads use separate
// connections and never wait for a commit. One writer at a time, so
// receipts become leaves as they commit and cursors are the commit order.
absl::StatusOr<std::unique_ptr<Engine>> OpenSqliteEngine(
    const SqliteEngineOptions& options);

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_SQLITE_ENGINE_H_
