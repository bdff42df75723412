#include "tests/testing/audit_export.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace utpost::testing {

absl::Status WriteStoreExport(store::Store* store,
                              receipts::ReceiptSigner* signer,
                              const std::string& path,
                              const api::ExportRequest& request, Clock* clock) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  api::ExportStream stream(store, signer, request, clock);
  RETURN_IF_ERROR(stream.Prepare());
  v1::ExportReceiptsResponse item;
  while (true) {
    ASSIGN_OR_RETURN(bool more, stream.Next(&item));
    if (!more) break;
    out << item.line() << "\n";
  }
  out.flush();
  return out ? absl::OkStatus() : absl::InternalError("write failed");
}

absl::Status WriteStoreExport(store::Store* store,
                              receipts::ReceiptSigner* signer,
                              const std::string& path,
                              const std::string& tenant, int64_t heads_since) {
  api::ExportRequest request;
  request.tenant = tenant;
  request.heads_since_size = heads_since;
  return WriteStoreExport(store, signer, path, request);
}

}  // namespace utpost::testing
