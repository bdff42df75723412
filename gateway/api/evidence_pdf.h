// The evidence document of one letter, for the case archive: a PDF/A-3b
// (ISO 19005-3, conformance B) that an archivist can file and a verifier
// can check on its own. It shows who sent the letter (the tenant's name and
// number), who it was for (masked), which documents (by name and SHA-256),
// each step with its time in Norwegian time (Europe/Oslo) and UTC, state,
// evidence type, channel and provider, the signed tree head the proofs lead
// to, the SHA-256 fingerprint of the receipt-signing certificate, when the
// document was made and how to verify it. In Norwegian (bokmål) by default,
// English on request.
//
// The letter's receipts with their inclusion proofs are embedded as an
// associated file ("receipts.jsonl", /AFRelationship /Data): a receipt log
// export (format utpost-receipt-log-export/2, scoped to the letter) that
// `utpostctl audit verify` and tests/audit/verify_export.py verify. The
// fonts (DejaVu, TrueType) are embedded; XMP metadata carries the PDF/A
// identification; the output intent is sRGB.
#ifndef UTPOST_GATEWAY_API_EVIDENCE_PDF_H_
#define UTPOST_GATEWAY_API_EVIDENCE_PDF_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/store/store.h"

namespace utpost::api {

// The name of the embedded receipt log export.
inline constexpr char kEvidenceAttachment[] = "receipts.jsonl";

struct EvidenceDocument {
  // Not owned; required.
  const store::LetterRecord* letter = nullptr;
  const std::vector<store::ReceiptRecord>* receipts = nullptr;
  store::TreeHead head;
  // The sender's name (configuration's tenants[].name); empty: the number
  // alone.
  std::string sender_name;
  // "nb" (default) or "en".
  std::string language = "nb";
  // The letter's receipts as a receipt log export (see above). Required.
  std::string export_text;
  // When the document is made.
  int64_t now_ms = 0;
  // TrueType fonts embedded and the sRGB ICC profile of the output intent.
  std::string font_file = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  std::string mono_font_file =
      "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";
  std::string icc_profile_file = "/usr/share/color/icc/sRGB.icc";
};

// Returns the PDF bytes. INVALID_ARGUMENT for an unknown language;
// FAILED_PRECONDITION when a font or the ICC profile cannot be read;
// INTERNAL when the PDF libraries fail. Thread-safe.
absl::StatusOr<std::string> RenderEvidencePdf(const EvidenceDocument& doc);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_EVIDENCE_PDF_H_
