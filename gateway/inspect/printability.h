// Whether the documents of a letter can go to a print provider: the checks
// made at submission for a letter whose delivery policy allows print.
//
// The rules (what print providers take, see PROTOCOLS.md "Print"):
//   - PDF version 1.3 to 1.7 (from the header, or the catalog's /Version
//     when that is later). PDF 2.0 is refused: print providers take up to
//     1.7 (PDF/A-1 is 1.4, PDF/A-2 and -3 are 1.7). Versions before 1.3 are
//     refused too: they predate the structures the checks below read.
//   - Every page A4 portrait: the visible box (the CropBox when there is
//     one, else the MediaBox) 210 x 297 mm within kA4ToleranceMm, after the
//     page's /Rotate (a landscape box turned by 90 or 270 degrees reads as
//     portrait and is accepted).
//   - Every font a page uses is embedded: the fonts selected with Tf in the
//     page's content streams, and in the form XObjects it draws (Do),
//     nested up to 12 levels; each form is parsed once per document, so
//     forms that draw themselves cost linear time. A font is embedded when its
//     descriptor (for a Type0 font: its descendant's) has /FontFile, /FontFile2
//     or /FontFile3; a Type3 font is embedded by definition; a standard-14 font
//     without a file is not. Fonts in annotations' appearance streams are not
//     checked.
//   - The letter fits in one envelope: its sheets (pages, halved and
//     rounded up per document when duplex; one more for an address cover
//     page) are at most PrintabilityOptions::max_sheets.
// The 15 mm left margin that print providers keep for their barcode is not
// checked: telling drawn content from a white background or a clipped-away
// object needs a full renderer, and a check that refuses good letters is
// worse than none.
#ifndef UTPOST_GATEWAY_INSPECT_PRINTABILITY_H_
#define UTPOST_GATEWAY_INSPECT_PRINTABILITY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace utpost::inspect {

// Difference from 210 x 297 mm still accepted as A4, per side.
inline constexpr double kA4ToleranceMm = 2.0;

struct PrintabilityOptions {
  // Sheets of paper one envelope holds. Default 14.
  int max_sheets = 14;
  // Printed on both sides: two pages a sheet.
  bool duplex = false;
  // An address cover page is put in front (one more sheet).
  bool cover_page = false;
  // Problems listed at most; the rest are counted. Default 10.
  int max_problems = 10;
};

// One document of the letter.
struct PrintableDocument {
  std::string_view file_name;
  std::string_view content;  // A PDF that CheckPdf accepted.
};

// The sheets of paper a letter takes: each document's pages, halved and
// rounded up when duplex, summed, plus one for an address cover page. The
// count CheckPrintable holds against max_sheets.
int SheetsFor(const std::vector<int>& page_counts, bool duplex,
              bool cover_page);

// OK, or INVALID_ARGUMENT "documents: not printable: " followed by every
// problem found (up to options.max_problems, then "and N more"), separated
// by "; ", each naming the document, its file name and the page:
//   documents[1] (vedlegg.pdf) page 3: font 'Helvetica' is not embedded
//   documents[0] (vedtak.pdf) page 1: 215.9 x 279.4 mm, not A4 portrait
//   documents[0] (vedtak.pdf): PDF version 2.0, print takes 1.3 to 1.7
//   documents: 16 sheets, an envelope holds 14
// A font missing on several pages is named once, at its first page. File
// names are quoted with person numbers masked. Thread-safe.
absl::Status CheckPrintable(const std::vector<PrintableDocument>& documents,
                            const PrintabilityOptions& options);

}  // namespace utpost::inspect

#endif  // UTPOST_GATEWAY_INSPECT_PRINTABILITY_H_
