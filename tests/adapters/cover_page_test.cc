#include "adapters/print/cover_page.h"

#include <qpdf/QPDF.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFPageObjectHelper.hh>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gateway/inspect/printability.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/pdf_fixtures.h"

namespace utpost::adapters {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::MakeTestPdf;
using ::utpost::testing::StatusIs;

constexpr double kPointsPerMm = 72.0 / 25.4;
constexpr double kA4Height = 297.0 * kPointsPerMm;

// A string shown on a page and where its line starts (points, from the
// bottom left).
struct Shown {
  std::string text;
  double x = 0;
  double y = 0;
};

// Follows the text position through BT, Td, TD, Tm and T* (no scaling
// beyond what these set) and records every Tj.
class TextPositions final : public QPDFObjectHandle::ParserCallbacks {
 public:
  void handleObject(QPDFObjectHandle object) override {
    if (!object.isOperator()) {
      operands_.push_back(object);
      return;
    }
    const std::string op = object.getOperatorValue();
    auto number = [this](size_t i) { return operands_[i].getNumericValue(); };
    if (op == "BT") {
      line_x_ = line_y_ = 0;
    } else if ((op == "Td" || op == "TD") && operands_.size() == 2) {
      line_x_ += number(0);
      line_y_ += number(1);
    } else if (op == "Tm" && operands_.size() == 6) {
      line_x_ = number(4);
      line_y_ = number(5);
    } else if (op == "TL" && operands_.size() == 1) {
      leading_ = number(0);
    } else if (op == "T*") {
      line_y_ -= leading_;
    } else if (op == "Tj" && operands_.size() == 1) {
      shown.push_back({operands_[0].getStringValue(), line_x_, line_y_});
    }
    operands_.clear();
  }
  void handleEOF() override {}

  std::vector<Shown> shown;

 private:
  std::vector<QPDFObjectHandle> operands_;
  double line_x_ = 0;
  double line_y_ = 0;
  double leading_ = 0;
};

PostalAddress Recipient() {
  return {"Nora Utenpost",
          {"Testveien 1", "Leilighet H0101"},
          "5003",
          "Bergen",
          ""};
}

PostalAddress ReturnAddress() {
  return {"Bergen kommune", {"Postboks 7700"}, "5020", "Bergen", ""};
}

// Lower-left corner (mm from the left edge, from the top edge) must lie
// inside the window, with the text's height (`size` points) too.
void ExpectInWindow(const Shown& s, double size) {
  const double left_mm = s.x / kPointsPerMm;
  const double top_of_text_mm = (kA4Height - s.y - size) / kPointsPerMm;
  const double baseline_mm = (kA4Height - s.y) / kPointsPerMm;
  EXPECT_GE(left_mm, kWindowLeftMm) << s.text;
  EXPECT_LE(left_mm, kWindowLeftMm + kWindowWidthMm) << s.text;
  EXPECT_GE(top_of_text_mm, kWindowTopMm) << s.text;
  EXPECT_LE(baseline_mm, kWindowTopMm + kWindowHeightMm) << s.text;
}

TEST(CoverPageTest, PutsTheAddressesInTheWindowOfAnA4Page) {
  absl::StatusOr<std::string> cover =
      MakeCoverPage({}, Recipient(), ReturnAddress(), /*blank_back=*/false);
  ASSERT_THAT(cover, IsOk());

  QPDF pdf;
  pdf.processMemoryFile("cover", cover->data(), cover->size());
  std::vector<QPDFPageObjectHelper> pages =
      QPDFPageDocumentHelper(pdf).getAllPages();
  ASSERT_EQ(pages.size(), 1u);
  QPDFObjectHandle::Rectangle box =
      pages[0].getMediaBox().getArrayAsRectangle();
  EXPECT_NEAR((box.urx - box.llx) / kPointsPerMm, 210.0, 0.5);
  EXPECT_NEAR((box.ury - box.lly) / kPointsPerMm, 297.0, 0.5);

  TextPositions text;
  pages[0].parseContents(&text);
  std::vector<std::string> lines;
  for (const Shown& s : text.shown) lines.push_back(s.text);
  EXPECT_THAT(lines, ::testing::ElementsAre(
                         "Returadresse: Bergen kommune, Postboks 7700, 5020 "
                         "Bergen",
                         "Nora Utenpost", "Testveien 1", "Leilighet H0101",
                         "5003 Bergen"));
  for (size_t i = 0; i < text.shown.size(); ++i) {
    ExpectInWindow(text.shown[i], i == 0 ? 7 : 11);
  }
  // The return address is above the recipient; lines go down the page.
  for (size_t i = 1; i < text.shown.size(); ++i) {
    EXPECT_LT(text.shown[i].y, text.shown[i - 1].y);
  }
  // The barcode margin stays free.
  for (const Shown& s : text.shown) EXPECT_GE(s.x, 15 * kPointsPerMm);
}

TEST(CoverPageTest, IsPrintableItself) {
  absl::StatusOr<std::string> cover =
      MakeCoverPage({}, Recipient(), ReturnAddress(), /*blank_back=*/true);
  ASSERT_THAT(cover, IsOk());
  // Fonts embedded, A4, a PDF version print takes.
  EXPECT_THAT(inspect::CheckPrintable({{"cover.pdf", *cover}}, {}), IsOk());
  EXPECT_THAT(CountPdfPages(*cover), IsOk());
  EXPECT_EQ(*CountPdfPages(*cover), 2);
}

TEST(CoverPageTest, WritesNorwegianLettersInTheFontsEncoding) {
  PostalAddress recipient = Recipient();
  recipient.name = "Åse Ødegård";
  absl::StatusOr<std::string> cover =
      MakeCoverPage({}, recipient, ReturnAddress(), false);
  ASSERT_THAT(cover, IsOk());
  QPDF pdf;
  pdf.processMemoryFile("cover", cover->data(), cover->size());
  TextPositions text;
  QPDFPageDocumentHelper(pdf).getAllPages()[0].parseContents(&text);
  ASSERT_GE(text.shown.size(), 2u);
  EXPECT_EQ(text.shown[1].text,
            "\xC5se \xD8"
            "deg\xE5rd");  // Windows-1252.
}

TEST(CoverPageTest, NeedsARecipientName) {
  PostalAddress recipient = Recipient();
  recipient.name = " ";
  EXPECT_THAT(MakeCoverPage({}, recipient, ReturnAddress(), false),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
}

TEST(CoverPageTest, PrependKeepsTheDocumentsPagesAfterTheCover) {
  absl::StatusOr<std::string> cover =
      MakeCoverPage({}, Recipient(), ReturnAddress(), false);
  ASSERT_THAT(cover, IsOk());
  absl::StatusOr<std::string> merged = PrependPdf(*cover, MakeTestPdf(3, "x"));
  ASSERT_THAT(merged, IsOk());
  EXPECT_EQ(*CountPdfPages(*merged), 4);
  EXPECT_THAT(inspect::CheckPrintable({{"merged.pdf", *merged}}, {}), IsOk());
  // The same inputs give the same bytes.
  EXPECT_EQ(*merged, *PrependPdf(*cover, MakeTestPdf(3, "x")));

  QPDF pdf;
  pdf.processMemoryFile("merged", merged->data(), merged->size());
  TextPositions first;
  QPDFPageDocumentHelper(pdf).getAllPages()[0].parseContents(&first);
  ASSERT_GE(first.shown.size(), 2u);
  EXPECT_EQ(first.shown[1].text, "Nora Utenpost");
  EXPECT_THAT(PrependPdf(*cover, "%PDF-1.4 broken"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

}  // namespace
}  // namespace utpost::adapters
