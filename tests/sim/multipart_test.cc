#include "sim/multipart.h"

#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::sim {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

TEST(SimMultipartTest, SplitsPartsWithHeadersAndBinaryBodies) {
  std::string binary("a\0b\r\nc", 6);
  std::string body =
      "preamble\r\n"
      "--XyZ\r\n"
      "Content-Type: application/vnd.digipost-v8+xml\r\n"
      "Content-Disposition: attachment; filename=\"message\"\r\n"
      "\r\n"
      "<message/>\r\n"
      "--XyZ\r\n"
      "content-disposition: attachment; filename=\"doc-1\"\r\n"
      "\r\n" +
      binary +
      "\r\n"
      "--XyZ--\r\n";
  auto parts = ParseMultipart(body, "XyZ");
  ASSERT_THAT(parts, IsOk());
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].headers.at("content-type"),
            "application/vnd.digipost-v8+xml");
  EXPECT_EQ(FilenameOf((*parts)[0].headers.at("content-disposition")),
            "message");
  EXPECT_EQ((*parts)[0].body, "<message/>");
  EXPECT_EQ(FilenameOf((*parts)[1].headers.at("content-disposition")), "doc-1");
  EXPECT_EQ((*parts)[1].body, binary);
}

TEST(SimMultipartTest, RefusesTruncatedBodies) {
  EXPECT_THAT(
      ParseMultipart("--b\r\nA: 1\r\n\r\nno end", "b"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("closing")));
  EXPECT_THAT(
      ParseMultipart("nothing here", "b"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("delimiter")));
  EXPECT_THAT(
      ParseMultipart("--b\r\n", ""),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("boundary")));
}

TEST(SimMultipartTest, ReadsParameters) {
  EXPECT_EQ(BoundaryOf("multipart/vnd.digipost-v8+xml; boundary=abc"), "abc");
  EXPECT_EQ(BoundaryOf("multipart/form-data; charset=x; Boundary=\"q r\""),
            "q r");
  EXPECT_EQ(BoundaryOf("application/json"), "");
  EXPECT_EQ(FilenameOf("attachment; filename=\"x.pdf\""), "x.pdf");
  EXPECT_EQ(FilenameOf("attachment"), "");
}

}  // namespace
}  // namespace utpost::sim
