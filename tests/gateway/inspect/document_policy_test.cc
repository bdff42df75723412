#include "gateway/inspect/document_policy.h"

#include <chrono>
#include <functional>
#include <memory>
#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <qpdf/QPDFWriter.hh>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "gateway/inspect/document_inspector.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/pdf_fixtures.h"

namespace utpost::inspect {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::MakeTestPdf;
using ::utpost::testing::StatusIs;

std::string Write(
    QPDF& pdf,
    const std::function<void(QPDFWriter&)>& setup = [](QPDFWriter&) {}) {
  QPDFWriter writer(pdf);
  writer.setOutputMemory();
  writer.setStaticID(true);
  setup(writer);
  writer.write();
  std::shared_ptr<Buffer> out = writer.getBufferSharedPointer();
  return std::string(reinterpret_cast<const char*>(out->getBuffer()),
                     out->getSize());
}

// MakeTestPdf(pages) changed by `edit`.
std::string Edited(int pages, const std::function<void(QPDF&)>& edit) {
  const std::string base = MakeTestPdf(pages, "Vedtak");
  QPDF pdf;
  pdf.processMemoryFile("base", base.data(), base.size());
  edit(pdf);
  return Write(pdf);
}

QPDFObjectHandle Parse(const std::string& text) {
  return QPDFObjectHandle::parse(text);
}

absl::Status Inspect(const std::vector<std::string>& pdfs,
                     DocumentLimits limits = {}, bool may_print = false) {
  InspectionRequest request;
  for (const std::string& pdf : pdfs)
    request.documents.push_back({"a.pdf", pdf});
  request.may_print = may_print;
  return InspectDocuments(request, limits);
}

absl::Status InspectOne(const std::string& pdf, DocumentLimits limits = {}) {
  return Inspect({pdf}, limits);
}

TEST(DocumentPolicyTest, AcceptsAPlainLetter) {
  int64_t budget = DocumentLimits().max_decoded_bytes;
  EXPECT_THAT(CheckDocumentPolicy(MakeTestPdf(3, "Vedtak"), {}, &budget),
              IsOk());
  EXPECT_LT(budget, DocumentLimits().max_decoded_bytes);  // Streams counted.
  EXPECT_THAT(Inspect({MakeTestPdf(2, "Vedtak")}, {}, true), IsOk());
}

TEST(DocumentPolicyTest, RefusesEncryptedWithEmptyUserPassword) {
  const std::string base = MakeTestPdf(1, "Vedtak");
  QPDF pdf;
  pdf.processMemoryFile("base", base.data(), base.size());
  const std::string encrypted = Write(pdf, [](QPDFWriter& w) {
    w.setR6EncryptionParameters("", "owner", true, true, true, true, true, true,
                                qpdf_r3p_full, true);
  });
  EXPECT_THAT(InspectOne(encrypted),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "documents[0].content: not accepted: is encrypted"));
}

TEST(DocumentPolicyTest, RefusesJavaScriptWhereverItIs) {
  const std::vector<std::function<void(QPDF&)>> edits = {
      [](QPDF& pdf) {
        pdf.getRoot().replaceKey(
            "/OpenAction",
            Parse("<< /S /JavaScript /JS (app.alert\\(1\\)) >>"));
      },
      [](QPDF& pdf) {
        pdf.getRoot().replaceKey(
            "/Names",
            Parse("<< /JavaScript << /Names [(a) << /S /JavaScript /JS (1) >>] "
                  ">> >>"));
      },
      [](QPDF& pdf) {
        QPDFObjectHandle page = pdf.getAllPages()[0];
        page.replaceKey("/AA", Parse("<< /O << /S /JavaScript /JS (1) >> >>"));
      },
      [](QPDF& pdf) {
        // A script in a stream, behind an indirect reference.
        QPDFObjectHandle script = pdf.newStream("this.print()");
        QPDFObjectHandle action =
            pdf.makeIndirectObject(Parse("<< /S /JavaScript >>"));
        action.replaceKey("/JS", script);
        pdf.getRoot().replaceKey("/OpenAction", action);
      },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    EXPECT_THAT(InspectOne(Edited(1, edits[i])),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         "documents[0].content: not accepted: contains "
                         "JavaScript"))
        << "edit " << i;
  }
}

TEST(DocumentPolicyTest, RefusesLaunchActionsEmbeddedFilesAndXfa) {
  EXPECT_THAT(InspectOne(Edited(1,
                                [](QPDF& pdf) {
                                  pdf.getRoot().replaceKey(
                                      "/OpenAction",
                                      Parse("<< /S /Launch /F (calc.exe) >>"));
                                })),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not accepted: contains a launch action")));
  EXPECT_THAT(
      InspectOne(Edited(
          1,
          [](QPDF& pdf) {
            QPDFObjectHandle file = pdf.newStream("MZ payload");
            file.getDict().replaceKey(
                "/Type", QPDFObjectHandle::newName("/EmbeddedFile"));
            QPDFObjectHandle spec = pdf.makeIndirectObject(
                Parse("<< /Type /Filespec /F (a.exe) >>"));
            spec.replaceKey("/EF", QPDFObjectHandle::newDictionary());
            spec.getKey("/EF").replaceKey("/F", file);
            QPDFObjectHandle names =
                Parse("<< /EmbeddedFiles << /Names [(a.exe)] >> >>");
            names.getKey("/EmbeddedFiles").getKey("/Names").appendItem(spec);
            pdf.getRoot().replaceKey("/Names", names);
          })),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("not accepted: contains an embedded file")));
  EXPECT_THAT(
      InspectOne(Edited(1,
                        [](QPDF& pdf) {
                          QPDFObjectHandle form = Parse("<< /Fields [] >>");
                          form.replaceKey("/XFA", pdf.newStream("<xdp:xdp/>"));
                          pdf.getRoot().replaceKey("/AcroForm", form);
                        })),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("not accepted: contains an XFA form")));
}

TEST(DocumentPolicyTest, BoundsThePageCount) {
  DocumentLimits limits;
  limits.max_pages = 2;
  EXPECT_THAT(InspectOne(MakeTestPdf(2), limits), IsOk());
  EXPECT_THAT(
      InspectOne(MakeTestPdf(3), limits),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "documents[0].content: not accepted: more than 2 pages"));
}

TEST(DocumentPolicyTest, BoundsThePageTreeDepth) {
  // The pages moved one level down, under an intermediate node.
  const std::string deeper = Edited(2, [](QPDF& pdf) {
    QPDFObjectHandle root = pdf.getRoot().getKey("/Pages");
    QPDFObjectHandle node =
        pdf.makeIndirectObject(Parse("<< /Type /Pages /Count 2 >>"));
    node.replaceKey("/Kids", root.getKey("/Kids"));
    node.replaceKey("/Parent", root);
    for (QPDFObjectHandle page : node.getKey("/Kids").getArrayAsVector()) {
      page.replaceKey("/Parent", node);
    }
    root.replaceKey("/Kids", QPDFObjectHandle::newArray({node}));
  });
  DocumentLimits limits;
  limits.max_page_tree_depth = 1;
  EXPECT_THAT(InspectOne(deeper, limits), IsOk());
  limits.max_page_tree_depth = 0;
  EXPECT_THAT(InspectOne(deeper, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "documents[0].content: not accepted: page tree deeper "
                       "than 0 levels"));
}

TEST(DocumentPolicyTest, CountsDecodedBytesOverTheWholeLetter) {
  // 3 MiB of zeros, compressed by the writer to a few KiB.
  const std::string big = Edited(1, [](QPDF& pdf) {
    pdf.getRoot().replaceKey("/Junk",
                             pdf.newStream(std::string(3 << 20, '\0')));
  });
  ASSERT_LT(big.size(), size_t{1} << 20);
  DocumentLimits limits;
  limits.max_decoded_bytes = int64_t{5} << 20;
  EXPECT_THAT(Inspect({big}, limits), IsOk());
  EXPECT_THAT(Inspect({big, big}, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "documents[1].content: not accepted: streams decode to "
                       "more than 5 MiB (the letter's limit)"));
}

TEST(DocumentPolicyTest, SelfDrawingFormsCostLinearTime) {
  // A form that draws itself under four names, with an unembedded font:
  // walked naively to depth 12 that is 4^12 parses.
  const std::string pdf = Edited(1, [](QPDF& pdf) {
    QPDFObjectHandle form =
        pdf.newStream("BT /H 12 Tf (x) Tj ET /X0 Do /X1 Do /X2 Do /X3 Do");
    form.getDict().replaceKey("/Type", QPDFObjectHandle::newName("/XObject"));
    form.getDict().replaceKey("/Subtype", QPDFObjectHandle::newName("/Form"));
    form.getDict().replaceKey("/BBox", Parse("[0 0 10 10]"));
    QPDFObjectHandle resources = pdf.makeIndirectObject(Parse(
        "<< /Font << /H << /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
        ">> >> /XObject << >> >>"));
    for (const char* name : {"/X0", "/X1", "/X2", "/X3"}) {
      resources.getKey("/XObject").replaceKey(name, form);
    }
    form.getDict().replaceKey("/Resources", resources);
    QPDFObjectHandle page = pdf.getAllPages()[0];
    page.replaceKey("/Resources", resources);
    page.replaceKey("/Contents", pdf.newStream("/X0 Do"));
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(Inspect({pdf}, {}, /*may_print=*/true),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("font 'Helvetica' is not embedded")));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(DocumentPolicyTest, LeavesWhatIsNotAPdfToCheckPdf) {
  int64_t budget = 100;
  EXPECT_THAT(CheckDocumentPolicy("", {}, &budget), IsOk());
  EXPECT_THAT(CheckDocumentPolicy("hello", {}, &budget), IsOk());
  EXPECT_THAT(InspectOne("hello"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "documents[0].content: not a PDF: does not start with "
                       "%PDF-"));
}

}  // namespace
}  // namespace utpost::inspect
