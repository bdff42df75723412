// Structural checks of PDF documents submitted in letters, with qpdf.
//
// These functions parse the whole document in memory; callers check the size
// against their limits first. They are thread-safe (each call has its own
// qpdf object) and write nothing to stdout or stderr: qpdf's warnings are
// suppressed, and its exceptions become statuses.
#ifndef UTPOST_GATEWAY_INSPECT_PDF_CHECK_H_
#define UTPOST_GATEWAY_INSPECT_PDF_CHECK_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace utpost::inspect {

// Succeeds when `content` is a PDF that qpdf can open (repairing a damaged
// cross-reference table if need be) and that has at least one page.
// Otherwise fails INVALID_ARGUMENT with the reason, e.g.
//   "empty document", "does not start with %PDF-",
//   "cannot be opened: <qpdf's reason>", "has no pages".
// The message carries no field path; the caller adds one. When it succeeds
// and `pages` is set, *pages is the page count (one parse for both).
absl::Status CheckPdf(std::string_view content, int* pages = nullptr);

// The number of pages of the PDF in `content`. Fails INVALID_ARGUMENT as
// CheckPdf does, except that a document with no pages gives 0.
absl::StatusOr<int> CountPdfPages(std::string_view content);

}  // namespace utpost::inspect

#endif  // UTPOST_GATEWAY_INSPECT_PDF_CHECK_H_
