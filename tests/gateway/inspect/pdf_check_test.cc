#include "gateway/inspect/pdf_check.h"

#include <qpdf/Constants.h>

#include <memory>
#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFWriter.hh>
#include <string>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/pdf_fixtures.h"

namespace utpost::inspect {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::testing::MakeTestPdf;
using ::utpost::testing::StatusIs;

// `pdf` rewritten with a user password, so it cannot be opened without it.
std::string EncryptWithPassword(const std::string& pdf) {
  QPDF in;
  in.processMemoryFile("in", pdf.data(), pdf.size());
  QPDFWriter writer(in);
  writer.setOutputMemory();
  writer.setR6EncryptionParameters("secret", "owner-secret", true, true, true,
                                   true, true, true, qpdf_r3p_full, true);
  writer.write();
  std::shared_ptr<Buffer> out = writer.getBufferSharedPointer();
  return std::string(reinterpret_cast<const char*>(out->getBuffer()),
                     out->getSize());
}

TEST(CheckPdfTest, AcceptsOnePage) {
  EXPECT_THAT(CheckPdf(MakeTestPdf()), IsOk());
}

TEST(CheckPdfTest, AcceptsPagesWithText) {
  EXPECT_THAT(CheckPdf(MakeTestPdf(3, "Vedtak (side)")), IsOk());
}

TEST(CheckPdfTest, RejectsEmptyContent) {
  EXPECT_THAT(CheckPdf(""),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty document"));
}

TEST(CheckPdfTest, RejectsContentWithoutPdfHeader) {
  EXPECT_THAT(CheckPdf("Dear recipient,\nthis is plain text.\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "does not start with %PDF-"));
  // A PDF with something in front is not accepted either.
  EXPECT_THAT(CheckPdf(" " + MakeTestPdf()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "does not start with %PDF-"));
}

TEST(CheckPdfTest, RejectsGarbageAfterHeader) {
  EXPECT_THAT(CheckPdf("%PDF-1.7\n\x01\x02 this is not a PDF body\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("cannot be opened: ")));
}

TEST(CheckPdfTest, RejectsHeaderOnly) {
  EXPECT_THAT(CheckPdf("%PDF-"), StatusIs(absl::StatusCode::kInvalidArgument,
                                          StartsWith("cannot be opened: ")));
}

TEST(CheckPdfTest, RejectsTruncatedPdf) {
  const std::string pdf = MakeTestPdf(2, "text");
  EXPECT_THAT(CheckPdf(pdf.substr(0, 40)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("cannot be opened: ")));
}

TEST(CheckPdfTest, RejectsPdfWithoutPages) {
  EXPECT_THAT(CheckPdf(MakeTestPdf(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, "has no pages"));
}

TEST(CheckPdfTest, RejectsPasswordProtectedPdf) {
  EXPECT_THAT(CheckPdf(EncryptWithPassword(MakeTestPdf())),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "cannot be opened: it is encrypted with a password"));
}

TEST(CheckPdfTest, RepairsBrokenCrossReferenceOffset) {
  std::string pdf = MakeTestPdf(2);
  // Point startxref at the wrong place; qpdf rebuilds the table by scanning.
  const size_t at = pdf.rfind("startxref\n");
  ASSERT_NE(at, std::string::npos);
  pdf.replace(at, std::string::npos, "startxref\n9\n%%EOF\n");
  EXPECT_THAT(CheckPdf(pdf), IsOk());
  EXPECT_THAT(CountPdfPages(pdf), IsOkAndHolds(2));
}

TEST(CheckPdfTest, PrintsNothing) {
  std::string damaged = MakeTestPdf();
  damaged.replace(damaged.rfind("startxref\n"), std::string::npos,
                  "startxref\n9\n%%EOF\n");
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  (void)CheckPdf(damaged);
  (void)CheckPdf("%PDF-1.4\ngarbage");
  EXPECT_THAT(::testing::internal::GetCapturedStdout(), IsEmpty());
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), IsEmpty());
}

TEST(CountPdfPagesTest, CountsPages) {
  EXPECT_THAT(CountPdfPages(MakeTestPdf()), IsOkAndHolds(1));
  EXPECT_THAT(CountPdfPages(MakeTestPdf(5, "x")), IsOkAndHolds(5));
  EXPECT_THAT(CountPdfPages(MakeTestPdf(0)), IsOkAndHolds(0));
}

TEST(CountPdfPagesTest, FailsLikeCheckPdf) {
  EXPECT_THAT(CountPdfPages("not a pdf"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("%PDF-")));
}

}  // namespace
}  // namespace utpost::inspect
