#include "adapters/print/cover_page.h"

#include <hpdf.h>

#include <exception>
#include <memory>
#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFLogger.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFPageObjectHelper.hh>
#include <qpdf/QPDFWriter.hh>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/haru_errors.h"
#include "common/text.h"

namespace utpost::adapters {
namespace {

constexpr double kPointsPerMm = 72.0 / 25.4;
constexpr double kReturnFontSize = 7.0;
constexpr double kAddressFontSize = 11.0;
constexpr double kAddressLeading = 13.0;
// More characters than any line of the window can show at 7 pt (a "." is
// about 2 points wide, the window about 230): longer text is cut to this
// before it is fitted, so a huge field costs nothing and never reaches
// libharu, which refuses strings past 64 KiB.
constexpr size_t kMaxLineChars = 400;

std::vector<std::string> AddressLines(const PostalAddress& address) {
  std::vector<std::string> lines;
  auto add = [&lines](absl::string_view line) {
    absl::string_view stripped = absl::StripAsciiWhitespace(line);
    if (!stripped.empty()) lines.emplace_back(stripped);
  };
  add(address.name);
  for (const std::string& line : address.lines) add(line);
  add(absl::StrCat(address.postal_code, " ", address.city));
  if (!address.country_code.empty() && address.country_code != "NO") {
    add(address.country_code);
  }
  return lines;
}

// Cuts `text` (CP1252) until it fits `width` points in the page's current
// font.
std::string FitWidth(HPDF_Page page, std::string text, double width) {
  if (text.size() > kMaxLineChars) text.resize(kMaxLineChars);
  while (!text.empty() && HPDF_Page_TextWidth(page, text.c_str()) > width) {
    text.pop_back();
  }
  return text;
}

std::shared_ptr<QPDFLogger> SilentLogger() {
  std::shared_ptr<QPDFLogger> logger = QPDFLogger::create();
  logger->setInfo(logger->discard());
  logger->setWarn(logger->discard());
  logger->setError(logger->discard());
  return logger;
}

void Open(QPDF& pdf, const char* name, std::string_view content) {
  pdf.setLogger(SilentLogger());
  pdf.setSuppressWarnings(true);
  pdf.processMemoryFile(name, content.data(), content.size());
}

}  // namespace

absl::StatusOr<std::string> MakeCoverPage(const CoverPageOptions& options,
                                          const PostalAddress& recipient,
                                          const PostalAddress& return_address,
                                          bool blank_back) {
  if (absl::StripAsciiWhitespace(recipient.name).empty()) {
    return absl::InvalidArgumentError("cover page: the recipient has no name");
  }
  HaruErrors errors;
  std::unique_ptr<std::remove_pointer_t<HPDF_Doc>, void (*)(HPDF_Doc)> pdf(
      HPDF_New(HaruErrors::Record, &errors), [](HPDF_Doc d) { HPDF_Free(d); });
  if (pdf == nullptr) return absl::InternalError("cover page: out of memory");
  HPDF_SetCompressionMode(pdf.get(), HPDF_COMP_ALL);
  const char* font_name =
      HPDF_LoadTTFontFromFile(pdf.get(), options.font_file.c_str(), HPDF_TRUE);
  HPDF_Font font = font_name == nullptr
                       ? nullptr
                       : HPDF_GetFont(pdf.get(), font_name, "CP1252");
  if (font == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cover page: cannot load the font \"", options.font_file,
                     "\" (libharu error 0x", absl::Hex(errors.code), ")"));
  }

  HPDF_Page page = HPDF_AddPage(pdf.get());
  HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
  const double page_height = HPDF_Page_GetHeight(page);
  const double left = (kWindowLeftMm + kWindowPaddingMm) * kPointsPerMm;
  const double width = (kWindowWidthMm - 2 * kWindowPaddingMm) * kPointsPerMm;
  double y = page_height - (kWindowTopMm + kWindowPaddingMm) * kPointsPerMm;

  HPDF_Page_BeginText(page);
  // The return address on one line at the top of the window.
  std::vector<std::string> from = AddressLines(return_address);
  if (!from.empty()) {
    HPDF_Page_SetFontAndSize(page, font, kReturnFontSize);
    y -= kReturnFontSize;
    std::string line = FitWidth(
        page,
        Utf8ToCp1252(absl::StrCat("Returadresse: ", absl::StrJoin(from, ", "))),
        width);
    HPDF_Page_TextOut(page, left, y, line.c_str());
    y -= kReturnFontSize;
  }
  HPDF_Page_SetFontAndSize(page, font, kAddressFontSize);
  const double bottom =
      page_height -
      (kWindowTopMm + kWindowHeightMm - kWindowPaddingMm) * kPointsPerMm;
  y -= kAddressFontSize;
  for (const std::string& line : AddressLines(recipient)) {
    if (y < bottom) break;  // More lines than the window shows.
    std::string text = FitWidth(page, Utf8ToCp1252(line), width);
    HPDF_Page_TextOut(page, left, y, text.c_str());
    y -= kAddressLeading;
  }
  HPDF_Page_EndText(page);
  if (blank_back) {
    HPDF_Page back = HPDF_AddPage(pdf.get());
    HPDF_Page_SetSize(back, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
  }

  if (errors.code == HPDF_OK) HPDF_SaveToStream(pdf.get());
  if (errors.code != HPDF_OK) {
    std::string text =
        absl::StrCat("cover page: libharu error 0x", absl::Hex(errors.code),
                     " (detail ", errors.detail, ")");
    // With the font loaded, what is left to go wrong is the letter's own
    // data: the same letter would fail the same way on every attempt.
    if (errors.code == HPDF_FAILD_TO_ALLOC_MEM) {
      return absl::InternalError(text);
    }
    return absl::InvalidArgumentError(
        absl::StrCat(text, ": the address cannot be printed"));
  }
  return HaruStreamBytes(pdf.get());
}

absl::StatusOr<int> CountPdfPages(std::string_view content) {
  try {
    QPDF pdf;
    Open(pdf, "document", content);
    return static_cast<int>(QPDFPageDocumentHelper(pdf).getAllPages().size());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the PDF: ", e.what()));
  }
}

absl::StatusOr<std::string> PrependPdf(std::string_view front,
                                       std::string_view document) {
  try {
    QPDF out;
    Open(out, "document", document);
    QPDF cover;
    Open(cover, "cover", front);
    QPDFPageDocumentHelper pages(out);
    std::vector<QPDFPageObjectHelper> front_pages =
        QPDFPageDocumentHelper(cover).getAllPages();
    // Each goes first, so the last goes in first.
    for (auto it = front_pages.rbegin(); it != front_pages.rend(); ++it) {
      pages.addPage(*it, /*first=*/true);
    }
    QPDFWriter writer(out);
    writer.setOutputMemory();
    // The same letter gives the same bytes (and digest) on every attempt.
    writer.setDeterministicID(true);
    writer.write();
    std::shared_ptr<Buffer> buffer = writer.getBufferSharedPointer();
    return std::string(reinterpret_cast<const char*>(buffer->getBuffer()),
                       buffer->getSize());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot put the cover page in front: ", e.what()));
  }
}

}  // namespace utpost::adapters
