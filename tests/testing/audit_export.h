// Writes a receipt log export (docs/receipt-log.md) straight from a store,
// as ReceiptLogService.ExportReceipts and `utpostctl audit export` would,
// for tests that need one without a server.
#ifndef UTPOST_TESTS_TESTING_AUDIT_EXPORT_H_
#define UTPOST_TESTS_TESTING_AUDIT_EXPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "gateway/store/store.h"

namespace utpost::testing {

// Issues a tree head of the whole log, then writes the heads from size
// `heads_since` on (0: only the new one) with consistency proofs, and every
// receipt of `tenant` ("" = all) with its inclusion proof to the new head.
absl::Status WriteStoreExport(store::Store* store, const std::string& path,
                              const std::string& tenant, int64_t heads_since);

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_AUDIT_EXPORT_H_
