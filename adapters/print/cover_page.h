// The address cover page that the print channel puts in front of a letter
// when configured, and the PDF handling around it (page counts, merging).
//
// Window geometry: a C5 envelope (229 x 162 mm) with a left address window
// 90 x 45 mm, holding an A4 letter folded once across the middle. On the
// A4 page the window is the area 20 to 110 mm from the left edge and 50 to
// 95 mm from the top edge (the address field of DIN 5008 form B, which the
// window envelopes sold in Norway follow; C5/6 and DL envelopes with a left
// window show the same area). The text keeps 4 mm from the window's edges
// so that the letter may shift in the envelope: in it, the return address
// on one small line (7 pt) at the top, then the recipient's name and
// address (11 pt). The 15 mm left margin that print providers keep for
// their barcode stays free. The page carries nothing else: the letter's
// title may be confidential.
#ifndef UTPOST_ADAPTERS_PRINT_COVER_PAGE_H_
#define UTPOST_ADAPTERS_PRINT_COVER_PAGE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "adapters/channel.h"

namespace utpost::adapters {

// The window on the A4 page, in millimetres from the page's left and top
// edges.
inline constexpr double kWindowLeftMm = 20.0;
inline constexpr double kWindowTopMm = 50.0;
inline constexpr double kWindowWidthMm = 90.0;
inline constexpr double kWindowHeightMm = 45.0;
// Distance of the text from the window's edges.
inline constexpr double kWindowPaddingMm = 4.0;

// The default font: DejaVu Sans from Debian's fonts-dejavu-core.
inline constexpr char kDefaultCoverPageFont[] =
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

struct CoverPageOptions {
  // A TrueType font file, embedded in the page. Its glyphs must cover
  // Windows-1252 (Norwegian letters included); other characters print as
  // '?'.
  std::string font_file = kDefaultCoverPageFont;
};

// An A4 PDF with the cover page; with `blank_back` a second, empty page
// follows, so that a duplex letter starts on a sheet of its own.
// INVALID_ARGUMENT when the recipient has no name or libharu refuses the
// address (the letter's data: the same on every attempt); lines too long
// for the window are cut, whatever their length. FAILED_PRECONDITION when
// the font cannot be loaded (the gateway's set-up); INTERNAL when memory
// runs out. Thread-safe.
absl::StatusOr<std::string> MakeCoverPage(const CoverPageOptions& options,
                                          const PostalAddress& recipient,
                                          const PostalAddress& return_address,
                                          bool blank_back);

// The number of pages of a PDF. INVALID_ARGUMENT when it cannot be read.
absl::StatusOr<int> CountPdfPages(std::string_view pdf);

// One PDF with the pages of `front` followed by those of `document`.
// INVALID_ARGUMENT when either cannot be read.
absl::StatusOr<std::string> PrependPdf(std::string_view front,
                                       std::string_view document);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_PRINT_COVER_PAGE_H_
