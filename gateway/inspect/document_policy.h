// What Utpost accepts in a PDF beyond its being one: the document policy
// that every letter's documents pass, whatever the delivery policy.
//
// Active and hidden content is refused for every letter, not only for those
// that may be printed: a digital mailbox shows the same PDF to the
// recipient in a viewer that may run scripts, follow launch actions or open
// attachments, and a letter from a public body needs none of those.
//   - encrypted documents (also those that open with an empty user
//     password): "is encrypted";
//   - JavaScript (/JS, /S /JavaScript, a /JavaScript name tree, also as
//     /OpenAction or /AA): "contains JavaScript";
//   - launch actions (/S /Launch): "contains a launch action";
//   - embedded files (/EmbeddedFiles, /EF, /Type /EmbeddedFile): "contains
//     an embedded file";
//   - XFA forms (/XFA): "contains an XFA form".
// Resource bounds, checked before any recursive walk of the document:
//   - the page tree is at most DocumentLimits::max_page_tree_depth levels
//     deep (walked here iteratively, each node once);
//   - at most DocumentLimits::max_pages pages per document;
//   - the decoded bytes of every stream of the letter (Flate, LZW, ASCII85,
//     ASCIIHex, RunLength; object streams first) are at most
//     DocumentLimits::max_decoded_bytes in all: the count stops decoding at
//     the limit, so a decompression bomb costs at most the limit in time
//     and nothing in memory.
#ifndef UTPOST_GATEWAY_INSPECT_DOCUMENT_POLICY_H_
#define UTPOST_GATEWAY_INSPECT_DOCUMENT_POLICY_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace utpost::inspect {

struct DocumentLimits {
  // Pages one document may have. Default 1000.
  int max_pages = 1000;
  // Levels of the page tree below the catalog's /Pages. Default 32 (a
  // balanced tree of fan-out 2 holds 2^32 pages at that depth).
  int max_page_tree_depth = 32;
  // Decoded bytes of all streams of all documents of one letter. Default
  // 256 MiB.
  int64_t max_decoded_bytes = int64_t{256} << 20;
};

// Checks one document against the policy above. `decoded_budget` is what
// is left of the letter's max_decoded_bytes; this document's streams are
// taken from it. Returns OK (also for what qpdf cannot open at all: CheckPdf
// reports that) or INVALID_ARGUMENT with the reason, without a field path:
//   "not accepted: contains JavaScript"
//   "not accepted: page tree deeper than 32 levels"
//   "not accepted: more than 1000 pages"
//   "not accepted: streams decode to more than 256 MiB (the letter's limit)"
//   "not a PDF: cannot be opened: <qpdf's reason>"
// Thread-safe; writes nothing.
absl::Status CheckDocumentPolicy(std::string_view content,
                                 const DocumentLimits& limits,
                                 int64_t* decoded_budget);

}  // namespace utpost::inspect

#endif  // UTPOST_GATEWAY_INSPECT_DOCUMENT_POLICY_H_
