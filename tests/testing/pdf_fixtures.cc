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

}  // namespace

std::string MakeTestPdf(int pages, std::string text) {
  QPDF pdf;
  pdf.emptyPDF();

  QPDFObjectHandle font = pdf.makeIndirectObject(QPDFObjectHandle::parse(
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"));
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
