// Opens the store that the configuration names: the one place that knows
// every engine. Callers hold a Store and never learn which engine it is.
#ifndef UTPOST_GATEWAY_STORE_MAKE_STORE_H_
#define UTPOST_GATEWAY_STORE_MAKE_STORE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/store.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::store {

// `config` as completed by the config loader (engine set, paths resolved).
// `signer` and `clock` are not owned and must outlive the store. Errors name
// the setting at fault ("store.sqlite_path: ...").
absl::StatusOr<std::unique_ptr<Store>> MakeStore(
    const ::utpost::config::v1::Store& config, receipts::ReceiptSigner* signer,
    Clock* clock = RealClock());

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_MAKE_STORE_H_
