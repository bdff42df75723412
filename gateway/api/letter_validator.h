// Validation of SubmitLetter requests before anything is stored.
#ifndef UTPOST_GATEWAY_API_LETTER_VALIDATOR_H_
#define UTPOST_GATEWAY_API_LETTER_VALIDATOR_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "gateway/inspect/document_inspector.h"

namespace utpost::v1 {
class SubmitLetterRequest;
}  // namespace utpost::v1

namespace utpost::api {

// Limits on a submitted letter. The defaults suit a print envelope and the
// gRPC message size the gateway accepts; the configuration may lower them.
// Fixed by the API contract (documented on the fields in letter.proto).
inline constexpr size_t kMaxFileNameBytes = 255;
inline constexpr size_t kMaxPostalNameChars = 100;
inline constexpr size_t kMaxAddressLineChars = 100;
inline constexpr int kMaxAddressLines = 4;
inline constexpr size_t kMaxPostalCodeChars = 10;
inline constexpr size_t kMaxCityChars = 50;

struct ValidationLimits {
  // Documents per letter, main document included.
  int max_documents = 10;
  // Size of one document's content.
  int64_t max_document_bytes = 10 << 20;
  // Size of all documents' content together.
  int64_t max_letter_bytes = 30 << 20;
  // Size of one uploaded document (UploadDocument), and of all documents
  // of a letter that references one.
  int64_t max_upload_bytes = 100 << 20;
  // Lengths in Unicode characters (code points), not bytes. SvarUT takes
  // client references of up to 100 characters.
  size_t max_title_chars = 200;
  size_t max_client_reference_chars = 100;
  // Print (see gateway/inspect/printability.h), checked when the policy
  // allows print: sheets one envelope holds, and whether an address cover
  // page (one more sheet) is put in front.
  int max_print_sheets = 14;
  bool print_cover_page = false;
  // Time against which not_before is checked. Not owned. Null: the real
  // clock.
  const Clock* clock = nullptr;
};

// Checks every field of `request` against the API contract and `limits`:
// everything that needs no PDF parsing (the documents' count, names, media
// types and sizes included). Returns OK or the first problem found as
// INVALID_ARGUMENT whose message starts with the field path, e.g.
// "recipient.person: check digit at position 10 is wrong". Messages never
// contain a full person number, not even one quoted from a file name.
// The documents' content is checked afterwards by a DocumentInspector
// (InspectionFor), so an oversized or malformed request costs no parsing.
// Thread-safe; keeps no reference to its arguments.
absl::Status ValidateSubmitLetter(
    const utpost::v1::SubmitLetterRequest& request,
    const ValidationLimits& limits);

// The one media type a document may have (an empty one means it).
inline constexpr absl::string_view kPdfMediaType = "application/pdf";

// INVALID_ARGUMENT "field: reason": how every field of a request is refused.
absl::Status InvalidField(absl::string_view field, absl::string_view reason);

// True for 64 lowercase hex digits: how a SHA-256 is written in the API.
bool IsSha256Hex(std::string_view s);

// What a DocumentInspector must check for `request` (which passed
// ValidateSubmitLetter): every document, and printability when its delivery
// policy allows print (DIGITAL_THEN_PRINT, the unspecified default, or
// PRINT_ONLY), with the sheet limit and cover page from `limits`. The
// result's views point into `request`.
inspect::InspectionRequest InspectionFor(
    const utpost::v1::SubmitLetterRequest& request,
    const ValidationLimits& limits);

// The sheets of paper `request` takes printed, from its documents' page
// counts (in the letter's order, as InspectionRequest::page_counts gives
// them): inspect::SheetsFor with the letter's duplex and the cover page of
// `limits`. The one count that preflight prices and submission stores for
// statistics.
int PrintSheetsOf(const utpost::v1::SubmitLetterRequest& request,
                  const std::vector<int>& page_counts,
                  const ValidationLimits& limits);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_LETTER_VALIDATOR_H_
