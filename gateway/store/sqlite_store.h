// The SQLite implementation of Store: one database file for one gateway
// process (or several processes on one machine).
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

// Opens (or creates) the database at `options.path`: write-ahead log,
// synchronous=FULL (every commit is on disk when the call returns), foreign
// keys on. INVALID_ARGUMENT for missing options, UNAVAILABLE when the file
// cannot be opened, FAILED_PRECONDITION when its schema is newer than this
// build.
//
// The returned store is thread-safe. Writes from concurrent callers are
// committed together: one caller commits every write waiting at that moment
// in one transaction (one fsync), each in its own savepoint so that one
// failing write does not undo the others; a lone write is not delayed.
// Reads use separate connections and never wait for a commit. Receipt
// cursors become visible in order: a reader that sees cursor N also sees
// every receipt below N.
//
// Details of this implementation: a document whose `sha256_hex` is empty gets
// it computed; outbox messages are always recorded against the letter of the
// call that writes them (their `letter_id` is filled in, not read);
// ListLetters clamps `page_size` to 1..1000 (0 or less means 100).
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(
    const SqliteStoreOptions& options);

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_SQLITE_STORE_H_
