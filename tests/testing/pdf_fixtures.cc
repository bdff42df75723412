#include "tests/testing/pdf_fixtures.h"

#include <memory>
#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFPageObjectHelper.hh>
#include <qpdf/QPDFWriter.hh>
#include <string>

#include "absl/strings/str_cat.h"

namespace utpost::testing {
namespace {

// Escapes the characters that end or escape a PDF literal string.
std::string PdfLiteral(const std::string& text) {
  std::string out = "(";
  for (char c : text) {
    if (c == '(' || c == ')' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back(')');
  return out;
}

// A Type 3 font (its glyphs are drawn by the document itself, so it counts
// as embedded for print) mapping the printable ASCII characters to one
// glyph "/g"; the caller adds /CharProcs.
std::string Type3FontDictionary() {
  std::string differences = "[32";
  std::string widths = "[";
  for (int c = 32; c <= 126; ++c) {
    absl::StrAppend(&differences, " /g");
    absl::StrAppend(&widths, c == 32 ? "" : " ", "500");
  }
  return absl::StrCat(
      "<< /Type /Font /Subtype /Type3 /FontBBox [0 0 500 700] "
      "/FontMatrix [0.001 0 0 0.001 0 0] /Encoding << /Type /Encoding "
      "/Differences ",
      differences, "] >> /FirstChar 32 /LastChar 126 /Widths ", widths,
      "] /Resources << >> >>");
}

}  // namespace

std::string MakeTestPdf(int pages, std::string text) {
  QPDF pdf;
  pdf.emptyPDF();

  QPDFObjectHandle font =
      pdf.makeIndirectObject(QPDFObjectHandle::parse(Type3FontDictionary()));
  QPDFObjectHandle procs = QPDFObjectHandle::newDictionary();
  // Every character is drawn as the same short stroke.
  procs.replaceKey("/g", pdf.newStream("500 0 d0 50 0 m 450 0 l S\n"));
  font.replaceKey("/CharProcs", procs);
  QPDFObjectHandle resources = QPDFObjectHandle::newDictionary();
  QPDFObjectHandle fonts = QPDFObjectHandle::newDictionary();
  fonts.replaceKey("/F1", font);
  resources.replaceKey("/Font", fonts);

  QPDFPageDocumentHelper helper(pdf);
  for (int i = 1; i <= pages; ++i) {
    std::string content;
    if (!text.empty()) {
      content =
          absl::StrCat("BT /F1 12 Tf 72 770 Td ",
                       PdfLiteral(absl::StrCat(text, " ", i)), " Tj ET\n");
    }
    QPDFObjectHandle page = pdf.makeIndirectObject(
        QPDFObjectHandle::parse("<< /Type /Page /MediaBox [0 0 595 842] >>"));
    page.replaceKey("/Contents", pdf.newStream(content));
    page.replaceKey("/Resources", resources);
    helper.addPage(QPDFPageObjectHelper(page), /*first=*/false);
  }

  QPDFWriter writer(pdf);
  writer.setOutputMemory();
  writer.setStaticID(true);
  writer.write();
  std::shared_ptr<Buffer> buffer = writer.getBufferSharedPointer();
  return std::string(reinterpret_cast<const char*>(buffer->getBuffer()),
                     buffer->getSize());
}

}  // namespace utpost::testing
