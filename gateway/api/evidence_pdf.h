// A human-readable PDF summary of one letter's journey for the case archive:
// who it was for (masked), which documents (by name and SHA-256), each step
// with its time, state, evidence type and channel, and the signed tree head
// the bundle's proofs lead to. It is for reading; the signed receipts next
// to it are the evidence.
#ifndef UTPOST_GATEWAY_API_EVIDENCE_PDF_H_
#define UTPOST_GATEWAY_API_EVIDENCE_PDF_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/store/store.h"

namespace utpost::api {

// Returns the PDF bytes. INTERNAL when the PDF library fails. Thread-safe.
absl::StatusOr<std::string> RenderEvidencePdf(
    const store::LetterRecord& letter,
    const std::vector<store::ReceiptRecord>& receipts,
    const store::TreeHead& head);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_EVIDENCE_PDF_H_
