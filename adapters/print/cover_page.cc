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

// UTF-8 to Windows-1252, the encoding the embedded font is used with.
// Characters it lacks become '?'; malformed bytes too.
std::string ToCp1252(absl::string_view utf8) {
  std::string out;
  size_t i = 0;
  while (i < utf8.size()) {
    unsigned char c = static_cast<unsigned char>(utf8[i]);
    uint32_t code = 0;
    int length = 0;
    if (c < 0x80) {
      code = c;
      length = 1;
    } else if ((c & 0xE0) == 0xC0) {
      code = c & 0x1F;
      length = 2;
    } else if ((c & 0xF0) == 0xE0) {
      code = c & 0x0F;
      length = 3;
    } else if ((c & 0xF8) == 0xF0) {
      code = c & 0x07;
      length = 4;
    } else {
      out.push_back('?');
      ++i;
      continue;
    }
    if (i + length > utf8.size()) {
      out.push_back('?');
      break;
    }
    for (int k = 1; k < length; ++k) {
      code = (code << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    i += length;
    if (code < 0x20) {
      out.push_back(' ');  // No control characters on paper.
    } else if (code < 0x7F || (code >= 0xA0 && code <= 0xFF)) {
      out.push_back(static_cast<char>(code));  // Latin-1 is CP1252 here.
    } else if (code == 0x20AC) {
      out.push_back(static_cast<char>(0x80));  // Euro sign.
    } else {
      out.push_back('?');
    }
  }
  return out;
}

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

// libharu reports errors through a callback; this keeps the first.
struct HaruErrors {
  HPDF_STATUS error = HPDF_OK;
  HPDF_STATUS detail = 0;
};

void OnHaruError(HPDF_STATUS error, HPDF_STATUS detail, void* data) {
  auto* errors = static_cast<HaruErrors*>(data);
  if (errors->error == HPDF_OK) {
    errors->error = error;
    errors->detail = detail;
  }
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
      HPDF_New(OnHaruError, &errors), [](HPDF_Doc d) { HPDF_Free(d); });
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
                     "\" (libharu error 0x", absl::Hex(errors.error), ")"));
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
        ToCp1252(absl::StrCat("Returadresse: ", absl::StrJoin(from, ", "))),
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
    std::string text = FitWidth(page, ToCp1252(line), width);
    HPDF_Page_TextOut(page, left, y, text.c_str());
    y -= kAddressLeading;
  }
  HPDF_Page_EndText(page);
  if (blank_back) {
    HPDF_Page back = HPDF_AddPage(pdf.get());
    HPDF_Page_SetSize(back, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
  }

  if (errors.error == HPDF_OK) HPDF_SaveToStream(pdf.get());
  if (errors.error != HPDF_OK) {
    std::string text =
        absl::StrCat("cover page: libharu error 0x", absl::Hex(errors.error),
                     " (detail ", errors.detail, ")");
    // With the font loaded, what is left to go wrong is the letter's own
    // data: the same letter would fail the same way on every attempt.
    if (errors.error == HPDF_FAILD_TO_ALLOC_MEM) {
      return absl::InternalError(text);
    }
    return absl::InvalidArgumentError(
        absl::StrCat(text, ": the address cannot be printed"));
  }
  std::string out(HPDF_GetStreamSize(pdf.get()), '\0');
  HPDF_UINT32 size = static_cast<HPDF_UINT32>(out.size());
  HPDF_ReadFromStream(pdf.get(), reinterpret_cast<HPDF_BYTE*>(out.data()),
                      &size);
  out.resize(size);
  return out;
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
