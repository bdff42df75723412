// The receipt log export format (JSON Lines, docs/receipt-log.md) and its
// offline verification. Verification trusts nothing but the CA file: every
// receipt and tree head is checked by its signature and certificate chain,
// every proof by RFC 9162 hashing.
#ifndef UTPOST_CLI_AUDIT_LOG_H_
#define UTPOST_CLI_AUDIT_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "utpost/v1/audit.pb.h"

namespace utpost::cli {

// What an export covers; the file's first line.
struct ExportScope {
  std::string tenant;      // "" = all tenants.
  std::string start_time;  // RFC 3339 or "" (no bound).
  std::string end_time;
};

// The export's first line, and one line per stream item.
std::string ExportHeaderLine(const ExportScope& scope);
// `head_size` is the size of the last tree head sent so far (receipt proofs
// lead to it).
std::string ExportLine(const v1::ExportReceiptsResponse& item,
                       int64_t head_size);

// One fault found: where (a receipt as "leaf N (letter ID seq S)", a tree
// head as "tree head of size N", or "line N") and what is wrong.
struct AuditFault {
  std::string where;
  std::string what;
};

struct AuditReport {
  // The export's format ("utpost-receipt-log-export/2"; /1 files cannot
  // prove they are complete).
  std::string format;
  int64_t receipts = 0;
  int64_t letters = 0;
  int64_t tree_heads = 0;
  std::vector<AuditFault> faults;
  // What the verification proves beyond the faults (or cannot prove).
  std::vector<std::string> notes;
};

// Verifies the export at `path` against the CA certificates of `ca_file`.
// For format /2 also that it is complete: its header and trailer are signed,
// the trailer is the last line and commits to the number and SHA-256 of the
// lines before it, and every letter's signed statement names exactly the
// receipts the file holds for that letter.
// With `previous_path` (an earlier export), also checks that the log did not
// rewrite or drop what that export showed. Faults are reported, not
// returned as errors; an error means a file could not be read.
absl::StatusOr<AuditReport> VerifyExport(const std::string& path,
                                         const std::string& ca_file,
                                         const std::string& previous_path);

// Same, for an export whose text is `text` (named `name` in faults), with
// no earlier export. An error only when the CA file cannot be read.
absl::StatusOr<AuditReport> VerifyExportText(const std::string& text,
                                             const std::string& name,
                                             const std::string& ca_file);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_AUDIT_LOG_H_
