#include "gateway/api/evidence_pdf.h"

#include <qpdf/QPDF.hh>
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

  auto pdf = RenderEvidencePdf(letter, receipts, head);
  ASSERT_THAT(pdf, IsOk());
  EXPECT_EQ(pdf->rfind("%PDF-", 0), 0u);
  // The page content is not compressed, so the text can be looked for.
  EXPECT_THAT(*pdf, HasSubstr("010170*****"));
  EXPECT_THAT(*pdf, Not(HasSubstr("01017012345")));
  EXPECT_THAT(*pdf, HasSubstr("vedtak.pdf"));
  EXPECT_THAT(*pdf, HasSubstr(std::string(64, 'a')));
  EXPECT_THAT(*pdf, HasSubstr("ContentConsignment"));
  EXPECT_THAT(*pdf, HasSubstr("2026-11-23T12:01:00.000Z"));
  EXPECT_THAT(*pdf, HasSubstr("size 100"));
  // WinAnsi ø (0xF8), written as an octal escape.
  EXPECT_THAT(*pdf, HasSubstr("Vedtak om bygges\\370knad"));
  // qpdf reads it back.
  QPDF q;
  q.processMemoryFile("summary", pdf->data(), pdf->size());
  EXPECT_GE(q.getAllPages().size(), 1u);
}

}  // namespace
}  // namespace utpost::api
