// The store on SQLite in one call: one database file for one gateway process
// (or several processes on one machine).
#ifndef UTPOST_GATEWAY_STORE_SQLITE_STORE_H_
#define UTPOST_GATEWAY_STORE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/store.h"

namespace utpost::store {

struct SqliteStoreOptions {
  // Database file; created with the schema when missing. A file path, not
  // ":memory:" (readers use their own connections to the same file).
  std::string path;
  // Signs every receipt, inside the transaction that writes it. Not owned;
  // must outlive the store. Required.
  receipts::ReceiptSigner* signer = nullptr;
  // Time of receipts, letters and outbox rows. Not owned; must outlive the
  // store. Null means RealClock().
  Clock* clock = RealClock();
  // How long a statement waits for a lock held by another process (for
  // example utpostctl reading the same file) before UNAVAILABLE.
  int busy_timeout_ms = 5000;
  // Most read connections open at once; further readers wait for one.
  int max_readers = 8;
};

// The store (store_impl.h) over the SQLite engine (sqlite_engine.h, which
// says how it commits, reads and migrates its schema). INVALID_ARGUMENT for
// missing options, UNAVAILABLE when the file cannot be opened,
// FAILED_PRECONDITION when its schema is newer than this build.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(
    const SqliteStoreOptions& options);

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_SQLITE_STORE_H_
