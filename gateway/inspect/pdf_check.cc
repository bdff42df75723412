#include "gateway/inspect/pdf_check.h"

#include <qpdf/Constants.h>

#include <exception>
#include <memory>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFExc.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gateway/inspect/quiet_qpdf.h"

namespace utpost::inspect {
namespace {

constexpr absl::string_view kPdfMagic = "%PDF-";

absl::Status CannotOpen(absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("cannot be opened: ", reason));
}

// Opens `content` with qpdf and counts its pages. qpdf reports problems by
// throwing, so everything that touches it stays inside the try block.
absl::StatusOr<int> OpenAndCountPages(std::string_view content) {
  if (content.empty()) return absl::InvalidArgumentError("empty document");
  // Debian's abseil has its own string_view, distinct from std::string_view.
  if (!absl::StartsWith(absl::string_view(content.data(), content.size()),
                        kPdfMagic)) {
    return absl::InvalidArgumentError("does not start with %PDF-");
  }
  try {
    QPDF pdf;
    OpenQuietly(pdf, content);
    QPDFPageDocumentHelper pages(pdf);
    return static_cast<int>(pages.getAllPages().size());
  } catch (const QPDFExc& e) {
    if (e.getErrorCode() == qpdf_e_password) {
      return CannotOpen("it is encrypted with a password");
    }
    // The detail leaves out qpdf's description and file offset, which mean
    // nothing to the client.
    return CannotOpen(e.getMessageDetail());
  } catch (const std::exception& e) {
    return CannotOpen(e.what());
  } catch (...) {
    return CannotOpen("unknown error in the PDF parser");
  }
}

}  // namespace

absl::Status CheckPdf(std::string_view content, int* pages) {
  absl::StatusOr<int> count = OpenAndCountPages(content);
  if (!count.ok()) return count.status();
  if (*count < 1) return absl::InvalidArgumentError("has no pages");
  if (pages != nullptr) *pages = *count;
  return absl::OkStatus();
}

absl::StatusOr<int> CountPdfPages(std::string_view content) {
  return OpenAndCountPages(content);
}

}  // namespace utpost::inspect
