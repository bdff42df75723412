#include "gateway/inspect/printability.h"

#include <memory>
#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFPageObjectHelper.hh>
#include <qpdf/QPDFWriter.hh>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/pdf_fixtures.h"

namespace utpost::inspect {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::utpost::testing::IsOk;
using ::utpost::testing::MakeTestPdf;
using ::utpost::testing::StatusIs;

constexpr char kA4[] = "[0 0 595.28 841.89]";
constexpr char kLetter[] = "[0 0 612 792]";

enum class Font { kNone, kHelvetica, kEmbeddedTrueType, kType0Unembedded };

struct PageSpec {
  std::string media_box = kA4;
  Font font = Font::kNone;
  // The font is used from a form XObject the page draws, not directly.
  bool in_form = false;
  int rotate = 0;
};

QPDFObjectHandle MakeFont(QPDF& pdf, Font font) {
  switch (font) {
    case Font::kHelvetica:
      return pdf.makeIndirectObject(QPDFObjectHandle::parse(
          "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"));
    case Font::kEmbeddedTrueType: {
      QPDFObjectHandle descriptor =
          pdf.makeIndirectObject(QPDFObjectHandle::parse(
              "<< /Type /FontDescriptor /FontName /DejaVuSans /Flags 32 "
              "/FontBBox [0 0 1000 1000] /ItalicAngle 0 /Ascent 900 "
              "/Descent -200 /CapHeight 700 /StemV 80 >>"));
      descriptor.replaceKey("/FontFile2", pdf.newStream("not a real font"));
      QPDFObjectHandle f = pdf.makeIndirectObject(QPDFObjectHandle::parse(
          "<< /Type /Font /Subtype /TrueType /BaseFont /DejaVuSans "
          "/FirstChar 32 /LastChar 32 /Widths [500] >>"));
      f.replaceKey("/FontDescriptor", descriptor);
      return f;
    }
    case Font::kType0Unembedded:
      return pdf.makeIndirectObject(QPDFObjectHandle::parse(
          "<< /Type /Font /Subtype /Type0 /BaseFont /ArialMT "
          "/Encoding /Identity-H /DescendantFonts [<< /Type /Font "
          "/Subtype /CIDFontType2 /BaseFont /ArialMT /CIDSystemInfo << "
          "/Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
          "/FontDescriptor << /Type /FontDescriptor /FontName /ArialMT "
          "/Flags 32 >> >>] >>"));
    case Font::kNone:
      break;
  }
  return QPDFObjectHandle::newNull();
}

// A PDF with the given pages, written as PDF `version`.
std::string MakePdf(const std::vector<PageSpec>& specs,
                    const std::string& version = "1.4") {
  QPDF pdf;
  pdf.emptyPDF();
  QPDFPageDocumentHelper helper(pdf);
  for (const PageSpec& spec : specs) {
    QPDFObjectHandle page = pdf.makeIndirectObject(QPDFObjectHandle::parse(
        absl::StrCat("<< /Type /Page /MediaBox ", spec.media_box, " /Rotate ",
                     spec.rotate, " >>")));
    QPDFObjectHandle resources = QPDFObjectHandle::newDictionary();
    std::string content = "0 0 1 rg 100 100 50 50 re f\n";
    if (spec.font != Font::kNone) {
      QPDFObjectHandle fonts = QPDFObjectHandle::newDictionary();
      fonts.replaceKey("/F1", MakeFont(pdf, spec.font));
      const std::string text = "BT /F1 12 Tf 72 770 Td (Vedtak) Tj ET\n";
      if (spec.in_form) {
        QPDFObjectHandle form = pdf.newStream(text);
        form.getDict().replaceKey("/Type",
                                  QPDFObjectHandle::newName("/XObject"));
        form.getDict().replaceKey("/Subtype",
                                  QPDFObjectHandle::newName("/Form"));
        form.getDict().replaceKey("/BBox",
                                  QPDFObjectHandle::parse("[0 0 595 842]"));
        QPDFObjectHandle form_resources = QPDFObjectHandle::newDictionary();
        form_resources.replaceKey("/Font", fonts);
        form.getDict().replaceKey("/Resources", form_resources);
        QPDFObjectHandle xobjects = QPDFObjectHandle::newDictionary();
        xobjects.replaceKey("/Fm1", form);
        resources.replaceKey("/XObject", xobjects);
        content += "q /Fm1 Do Q\n";
      } else {
        resources.replaceKey("/Font", fonts);
        content += text;
      }
    }
    page.replaceKey("/Resources", resources);
    page.replaceKey("/Contents", pdf.newStream(content));
    helper.addPage(QPDFPageObjectHelper(page), /*first=*/false);
  }
  QPDFWriter writer(pdf);
  writer.setOutputMemory();
  writer.setStaticID(true);
  writer.forcePDFVersion(version);
  writer.write();
  std::shared_ptr<Buffer> buffer = writer.getBufferSharedPointer();
  return std::string(reinterpret_cast<const char*>(buffer->getBuffer()),
                     buffer->getSize());
}

absl::Status Check(const std::vector<std::string>& pdfs,
                   PrintabilityOptions options = {}) {
  std::vector<std::string> names;
  for (size_t i = 0; i < pdfs.size(); ++i) {
    names.push_back(i == 0 ? "vedtak.pdf" : absl::StrCat("vedlegg", i, ".pdf"));
  }
  std::vector<PrintableDocument> documents;
  for (size_t i = 0; i < pdfs.size(); ++i) {
    documents.push_back({names[i], pdfs[i]});
  }
  return CheckPrintable(documents, options);
}

TEST(CheckPrintableTest, AcceptsA4WithoutText) {
  EXPECT_THAT(Check({MakePdf({{}, {}})}), IsOk());
}

TEST(CheckPrintableTest, AcceptsEmbeddedAndType3Fonts) {
  PageSpec embedded;
  embedded.font = Font::kEmbeddedTrueType;
  EXPECT_THAT(Check({MakePdf({embedded}), MakeTestPdf(2, "Vedtak")}), IsOk());
}

TEST(CheckPrintableTest, AcceptsA4TurnedByRotate) {
  PageSpec turned;
  turned.media_box = "[0 0 842 595]";
  turned.rotate = 90;
  EXPECT_THAT(Check({MakePdf({turned})}), IsOk());
}

TEST(CheckPrintableTest, RejectsLetterSizeNamingDocumentAndPage) {
  PageSpec letter;
  letter.media_box = kLetter;
  EXPECT_THAT(Check({MakePdf({{}}), MakePdf({{}, {}, letter})}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("documents: not printable: "),
                             HasSubstr("documents[1] (vedlegg1.pdf) page 3: "
                                       "215.9 x 279.4 mm, not A4 portrait"),
                             Not(HasSubstr("page 1:")))));
}

TEST(CheckPrintableTest, RejectsLandscapeA4) {
  PageSpec landscape;
  landscape.media_box = "[0 0 842 595]";
  EXPECT_THAT(Check({MakePdf({landscape})}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents[0] (vedtak.pdf) page 1: 297.0 x "
                                 "209.9 mm, not A4 portrait")));
}

TEST(CheckPrintableTest, RejectsHelveticaNotEmbedded) {
  PageSpec helvetica;
  helvetica.font = Font::kHelvetica;
  EXPECT_THAT(Check({MakePdf({{}}), MakePdf({{}, helvetica, helvetica})}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("documents[1] (vedlegg1.pdf) page 2: "
                                       "font 'Helvetica' is not embedded"),
                             // Named once, at its first page.
                             Not(HasSubstr("page 3")))));
}

TEST(CheckPrintableTest, RejectsFontNotEmbeddedInFormXObject) {
  PageSpec form;
  form.font = Font::kHelvetica;
  form.in_form = true;
  EXPECT_THAT(Check({MakePdf({form})}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents[0] (vedtak.pdf) page 1: font "
                                 "'Helvetica' is not embedded")));
}

TEST(CheckPrintableTest, RejectsType0FontWithoutFile) {
  PageSpec type0;
  type0.font = Font::kType0Unembedded;
  EXPECT_THAT(Check({MakePdf({type0})}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents[0] (vedtak.pdf) page 1: font "
                                 "'ArialMT' is not embedded")));
}

TEST(CheckPrintableTest, RejectsPdf20AndAcceptsPdf13) {
  EXPECT_THAT(Check({MakePdf({{}}, "1.3")}), IsOk());
  EXPECT_THAT(Check({MakePdf({{}}, "1.7")}), IsOk());
  EXPECT_THAT(Check({MakePdf({{}}), MakePdf({{}}, "2.0")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents[1] (vedlegg1.pdf): PDF version "
                                 "2.0, print takes 1.3 to 1.7")));
}

TEST(CheckPrintableTest, RejectsTooManySheets) {
  PrintabilityOptions options;
  options.max_sheets = 3;
  std::vector<PageSpec> four(4);
  EXPECT_THAT(Check({MakePdf(four)}, options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents: 4 sheets, an envelope holds 3")));
  // Duplex: four pages are two sheets.
  options.duplex = true;
  EXPECT_THAT(Check({MakePdf(four)}, options), IsOk());
  // The cover page is a sheet of its own.
  options.cover_page = true;
  options.max_sheets = 2;
  EXPECT_THAT(Check({MakePdf(four)}, options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents: 3 sheets (duplex) with the "
                                 "address cover page, an envelope holds 2")));
}

TEST(CheckPrintableTest, ListsEveryProblemBounded) {
  PageSpec bad;
  bad.media_box = kLetter;
  std::vector<PageSpec> pages(30, bad);
  PrintabilityOptions options;
  options.max_problems = 5;
  options.max_sheets = 100;
  absl::Status status = Check({MakePdf(pages)}, options);
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("page 5:"), Not(HasSubstr("page 6:")),
                             HasSubstr("; and 25 more"))));
}

TEST(CheckPrintableTest, MasksPersonNumbersInFileNames) {
  PageSpec letter;
  letter.media_box = kLetter;
  std::string pdf = MakePdf({letter});
  std::vector<PrintableDocument> documents = {{"01017012345.pdf", pdf}};
  absl::Status status = CheckPrintable(documents, {});
  EXPECT_THAT(status.message(), Not(HasSubstr("01017012345")));
  EXPECT_THAT(status.message(), HasSubstr("documents[0] (010170*****.pdf)"));
}

}  // namespace
}  // namespace utpost::inspect
