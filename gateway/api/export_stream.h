// The items of a receipt log export (format utpost-receipt-log-export/2,
// docs/receipt-log.md), one at a time, each with its export line: a signed
// header saying what the export covers and holds, the tree heads with their
// consistency proofs, the receipts with inclusion proofs, one signed
// statement per letter of how many receipts it has in the range, and a
// signed trailer over the SHA-256 of every line before it. Used by
// ReceiptLogService.ExportReceipts and by tests that need an export without
// a server.
#ifndef UTPOST_GATEWAY_API_EXPORT_STREAM_H_
#define UTPOST_GATEWAY_API_EXPORT_STREAM_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/store.h"
#include "utpost/v1/audit.pb.h"

namespace utpost::api {

inline constexpr char kExportFormat[] = "utpost-receipt-log-export/2";
// "typ" of the export's own statements.
inline constexpr char kExportHeaderTyp[] = "utpost-export-header+jws";
inline constexpr char kLetterStatementTyp[] = "utpost-letter-statement+jws";
inline constexpr char kExportTrailerTyp[] = "utpost-export-trailer+jws";

// What to export.
struct ExportRequest {
  std::string tenant;  // "" = all tenants (operators only).
  // Only this letter's receipts ("" = every letter); the header then says
  // "letter". For a letter's evidence document.
  std::string letter_id;
  bool has_start = false;
  int64_t start_ms = 0;  // Receipt time, inclusive.
  bool has_end = false;
  int64_t end_ms = 0;  // Exclusive.
  // Also the published heads from this size on; 0: only the last one.
  int64_t heads_since_size = 0;
};

class ExportStream {
 public:
  // `store` and `signer` are not owned and outlive this; `clock` may be
  // null (the real one).
  ExportStream(store::Store* store, receipts::ReceiptSigner* signer,
               ExportRequest request, Clock* clock = nullptr);
  ExportStream(const ExportStream&) = delete;
  ExportStream& operator=(const ExportStream&) = delete;
  ~ExportStream();

  // Fixes the tree head the export is for (signing one if the newest does
  // not cover the log), counts what it will hold and signs the header.
  absl::Status Prepare();
  // The next item with its `line` set; false after the trailer.
  absl::StatusOr<bool> Next(v1::ExportReceiptsResponse* out);

 private:
  absl::Status FillReceipts();
  absl::StatusOr<v1::ExportReceiptsResponse> Statement(
      const std::string& letter_id);
  absl::StatusOr<v1::ExportReceiptsResponse> Trailer();
  // Sets the line of `item` and adds it to the running hash.
  void Emit(v1::ExportReceiptsResponse* item);

  store::Store* const store_;
  receipts::ReceiptSigner* const signer_;
  const ExportRequest request_;
  Clock* const clock_;
  std::string start_time_, end_time_;  // RFC 3339 or "".

  enum class Phase { kHeads, kReceipts, kStatements, kTrailer, kDone };
  Phase phase_ = Phase::kHeads;
  store::TreeHead target_;
  store::LoggedReceiptCount expected_;
  int64_t expected_lines_ = 0;
  std::deque<v1::ExportReceiptsResponse> pending_;
  int64_t after_leaf_ = -1;
  bool receipts_done_ = false;
  int64_t receipts_sent_ = 0;
  // Letters in the order their first receipt was sent.
  std::vector<std::string> letters_;
  absl::flat_hash_set<std::string> letter_set_;
  size_t next_statement_ = 0;
  int64_t lines_ = 0;
  struct Hash;
  std::unique_ptr<Hash> hash_;
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_EXPORT_STREAM_H_
