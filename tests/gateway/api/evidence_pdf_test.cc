#include "gateway/api/evidence_pdf.h"

#include <qpdf/QPDF.hh>
#include <qpdf/QPDFEmbeddedFileDocumentHelper.hh>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Letter;

TEST(EvidencePdfTest, SummaryIsAPdfWithTheJourneyAndNoFullPersonNumber) {
  store::LetterRecord letter;
  letter.id = "0b9f7c1e-2a41-4c53-9d3e-5f1a2b3c4d5e";
  letter.tenant = "964338531";
  letter.client_reference = "sak-2026/17";
  letter.spec.set_title("Vedtak om byggesøknad");
  letter.spec.mutable_recipient()->set_person("01017012345");
  auto& d = letter.documents.emplace_back();
  d.set_file_name("vedtak.pdf");
  d.set_media_type("application/pdf");
  d.set_size_bytes(1234);
  d.set_sha256(std::string(64, 'a'));
  std::vector<store::ReceiptRecord> receipts(2);
  receipts[0].sequence = 1;
  receipts[0].state = Letter::RECEIVED;
  receipts[0].time_ms = 1795435200123;
  receipts[0].sha256_hex = std::string(64, 'b');
  receipts[0].leaf_index = 41;
  receipts[1].sequence = 2;
  receipts[1].state = Letter::DELIVERED;
  receipts[1].channel = "digital";
  receipts[1].time_ms = 1795435260000;
  receipts[1].sha256_hex = std::string(64, 'c');
  receipts[1].leaf_index = 57;
  store::TreeHead head{100, std::string(32, '\x11'), 1795435300000, ""};

  EvidenceDocument doc;
  doc.letter = &letter;
  doc.receipts = &receipts;
  doc.head = head;
  doc.sender_name = "Bergen kommune";
  doc.export_text = "{\"type\":\"export\"}\n";
  doc.now_ms = 1795435400000;
  auto pdf = RenderEvidencePdf(doc);
  ASSERT_THAT(pdf, IsOk());
  EXPECT_EQ(pdf->rfind("%PDF-1.7", 0), 0u);
  // The page content is not compressed, so the text can be looked for
  // (parentheses as qpdf writes them, \050 and \051).
  EXPECT_THAT(*pdf, HasSubstr("010170*****"));
  EXPECT_THAT(*pdf, Not(HasSubstr("01017012345")));
  EXPECT_THAT(*pdf, HasSubstr("vedtak.pdf"));
  EXPECT_THAT(*pdf, HasSubstr(std::string(64, 'a')));
  EXPECT_THAT(*pdf, HasSubstr("ContentConsignment"));
  EXPECT_THAT(*pdf, HasSubstr("Bergen kommune \\050964338531\\051"));
  // Norwegian time (CET in November) beside UTC.
  EXPECT_THAT(*pdf, HasSubstr("23.11.2026 13:01:00 norsk tid "
                              "\\0502026-11-23T12:01:00.000Z\\051"));
  EXPECT_THAT(*pdf, HasSubstr("rrelse 100"));
  // WinAnsi ø (0xF8), written as an octal escape.
  EXPECT_THAT(*pdf, HasSubstr("Vedtak om bygges\\370knad"));

  QPDF q;
  q.processMemoryFile("evidence", pdf->data(), pdf->size());
  EXPECT_GE(q.getAllPages().size(), 1u);
  QPDFObjectHandle root = q.getRoot();
  ASSERT_TRUE(root.getKey("/Metadata").isStream());
  std::shared_ptr<Buffer> xmp = root.getKey("/Metadata").getStreamData();
  const std::string xmp_text(reinterpret_cast<char*>(xmp->getBuffer()),
                             xmp->getSize());
  EXPECT_THAT(xmp_text, HasSubstr("<pdfaid:part>3</pdfaid:part>"));
  EXPECT_THAT(xmp_text,
              HasSubstr("<pdfaid:conformance>B</pdfaid:conformance>"));
  ASSERT_TRUE(root.getKey("/OutputIntents").isArray());
  EXPECT_EQ(
      root.getKey("/OutputIntents").getArrayItem(0).getKey("/S").getName(),
      "/GTS_PDFA1");
  // The receipts ride along as an associated file.
  QPDFEmbeddedFileDocumentHelper files(q);
  auto spec = files.getEmbeddedFile(kEvidenceAttachment);
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->getObjectHandle().getKey("/AFRelationship").getName(),
            "/Data");
  std::shared_ptr<Buffer> data = spec->getEmbeddedFileStream().getStreamData();
  EXPECT_EQ(
      std::string(reinterpret_cast<char*>(data->getBuffer()), data->getSize()),
      doc.export_text);
  // Every font is embedded.
  int fonts = 0;
  for (QPDFObjectHandle page : q.getAllPages()) {
    QPDFObjectHandle resources = page.getKey("/Resources");
    QPDFObjectHandle font_dict = resources.getKey("/Font");
    for (auto& [name, font] : font_dict.ditems()) {
      ++fonts;
      EXPECT_TRUE(
          font.getKey("/FontDescriptor").getKey("/FontFile2").isStream())
          << name;
    }
  }
  EXPECT_GE(fonts, 2);
}

TEST(EvidencePdfTest, EnglishOnRequestAndOtherLanguagesRefused) {
  store::LetterRecord letter;
  letter.id = "0b9f7c1e-2a41-4c53-9d3e-5f1a2b3c4d5e";
  std::vector<store::ReceiptRecord> receipts;
  EvidenceDocument doc;
  doc.letter = &letter;
  doc.receipts = &receipts;
  doc.export_text = "x\n";
  doc.language = "en";
  auto pdf = RenderEvidencePdf(doc);
  ASSERT_THAT(pdf, IsOk());
  EXPECT_THAT(*pdf, HasSubstr("How to verify"));
  EXPECT_THAT(*pdf, Not(HasSubstr("Slik kontrollerer du")));
  doc.language = "de";
  EXPECT_THAT(
      RenderEvidencePdf(doc),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"de\"")));
}

}  // namespace
}  // namespace utpost::api
