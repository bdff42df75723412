#include "tests/testing/audit_export.h"

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/audit_log.h"
#include "common/status_macros.h"
#include "gateway/api/receipt_log_service.h"

namespace utpost::testing {

absl::Status WriteStoreExport(store::Store* store, const std::string& path,
                              const std::string& tenant, int64_t heads_since) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  out << cli::ExportHeaderLine({tenant, "", ""}) << "\n";
  ASSIGN_OR_RETURN(store::TreeHead target, store->IssueTreeHead());
  std::vector<store::TreeHead> heads;
  if (heads_since > 0) {
    ASSIGN_OR_RETURN(heads,
                     store->ListTreeHeads(heads_since, target.tree_size - 1));
  }
  heads.push_back(target);
  for (size_t i = 0; i < heads.size(); ++i) {
    if (i > 0) {
      ASSIGN_OR_RETURN(
          auto proof,
          store->ConsistencyProof(heads[i - 1].tree_size, heads[i].tree_size));
      v1::ExportReceiptsResponse c;
      c.mutable_consistency()->set_first(heads[i - 1].tree_size);
      c.mutable_consistency()->set_second(heads[i].tree_size);
      for (const auto& h : proof) c.mutable_consistency()->add_hashes(h);
      out << cli::ExportLine(c, 0) << "\n";
    }
    v1::ExportReceiptsResponse h;
    *h.mutable_tree_head() = api::ToApiTreeHead(heads[i]);
    out << cli::ExportLine(h, heads[i].tree_size) << "\n";
  }
  store::ReceiptLogQuery q;
  q.tenant = tenant;
  while (true) {
    ASSIGN_OR_RETURN(auto page, store->LoggedReceipts(q));
    if (page.empty()) break;
    for (const auto& r : page) {
      q.after_leaf = r.leaf_index;
      if (r.leaf_index >= target.tree_size) continue;
      ASSIGN_OR_RETURN(auto proof,
                       store->InclusionProof(r.leaf_index, target.tree_size));
      v1::ExportReceiptsResponse item;
      auto* lr = item.mutable_receipt();
      lr->set_leaf_index(r.leaf_index);
      lr->set_letter_id(r.letter_id);
      lr->set_sequence(r.sequence);
      lr->set_jws(r.jws);
      for (const auto& p : proof) lr->add_inclusion_proof(p);
      out << cli::ExportLine(item, target.tree_size) << "\n";
    }
  }
  out.flush();
  return out ? absl::OkStatus() : absl::InternalError("write failed");
}

}  // namespace utpost::testing
