// The store's rules over any engine (engine.h): the one implementation of
// Store. It decides which transitions are allowed (lifecycle.h), builds,
// chains and signs receipts, grows the receipt log and signs its heads,
// and makes page tokens; the engine keeps the rows.
#ifndef UTPOST_GATEWAY_STORE_STORE_IMPL_H_
#define UTPOST_GATEWAY_STORE_STORE_IMPL_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/engine.h"
#include "gateway/store/store.h"

namespace utpost::store {

struct StoreOptions {
  // Signs every receipt and tree head. Not owned; must outlive the store.
  // Required.
  receipts::ReceiptSigner* signer = nullptr;
  // Time of receipts, letters and outbox rows. Not owned; must outlive the
  // store. Null means RealClock().
  Clock* clock = RealClock();
};

// The store over `engine`. INVALID_ARGUMENT without an engine or signer.
// When the engine makes receipts leaves as they commit, receipts an older
// build left outside the log are appended first.
//
// Details: a document whose `sha256_hex` is empty gets it computed; outbox
// messages are always recorded against the letter of the call that writes
// them (their `letter_id` is filled in, not read); ListLetters clamps
// `page_size` to 1..1000 (0 or less means 100).
absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::unique_ptr<Engine> engine,
                                                 const StoreOptions& options);

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_STORE_IMPL_H_
