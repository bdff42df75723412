// Writes a receipt log export (docs/receipt-log.md) straight from a store,
// as ReceiptLogService.ExportReceipts and `utpostctl audit export` would,
// for tests that need one without a server.
#ifndef UTPOST_TESTS_TESTING_AUDIT_EXPORT_H_
#define UTPOST_TESTS_TESTING_AUDIT_EXPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/clock.h"
#include "gateway/api/export_stream.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/store.h"

namespace utpost::testing {

// The export `request` asks for, its statements signed by `signer` (the
// store's receipt signer) at `clock`'s time (null: the real clock).
absl::Status WriteStoreExport(store::Store* store,
                              receipts::ReceiptSigner* signer,
                              const std::string& path,
                              const api::ExportRequest& request,
                              Clock* clock = nullptr);

// Every receipt of `tenant` ("" = all) with its inclusion proof to a head of
// the whole log, and the heads from size `heads_since` on (0: only that
// one) with consistency proofs.
absl::Status WriteStoreExport(store::Store* store,
                              receipts::ReceiptSigner* signer,
                              const std::string& path,
                              const std::string& tenant, int64_t heads_since);

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_AUDIT_EXPORT_H_
