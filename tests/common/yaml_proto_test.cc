#include "common/yaml_proto.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "utpost/config/v1/config.pb.h"
#include "utpost/v1/letter.pb.h"

namespace utpost {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

TEST(YamlToProtoTest, ScalarsTakeTheTypeOfTheirField) {
  v1::SubmitLetterRequest r;
  ASSERT_THAT(YamlToProto(R"(
client_reference: 42
title: Vedtak
recipient:
  person: 01817010055
  postal_address: {name: Kari, address_lines: [Storgata 1], postal_code: 5003}
delivery_policy: {mode: PRINT_ONLY, print_if_unread_after: 3600s}
print_options: {duplex: true, color: COLORS}
)",
                          "letter", &r),
              IsOk());
  EXPECT_EQ(r.client_reference(), "42");
  EXPECT_EQ(r.recipient().person(), "01817010055");
  EXPECT_EQ(r.recipient().postal_address().postal_code(), "5003");
  EXPECT_EQ(r.recipient().postal_address().address_lines(0), "Storgata 1");
  EXPECT_EQ(r.delivery_policy().mode(), v1::DeliveryPolicy::PRINT_ONLY);
  EXPECT_EQ(r.delivery_policy().print_if_unread_after().seconds(), 3600);
  EXPECT_TRUE(r.print_options().duplex());
  EXPECT_EQ(r.print_options().color(), v1::PrintOptions::COLORS);
}

TEST(YamlToProtoTest, NumbersAndRepeatedNumbers) {
  config::v1::Config c;
  ASSERT_THAT(YamlToProto("broker: {port: 5673}\nretry: {delays_seconds: [1, "
                          "2]}\n",
                          "config", &c),
              IsOk());
  EXPECT_EQ(c.broker().port(), 5673);
  EXPECT_EQ(c.retry().delays_seconds_size(), 2);
  EXPECT_EQ(c.retry().delays_seconds(1), 2);
}

TEST(YamlToProtoTest, UnknownFieldIsNamed) {
  v1::SubmitLetterRequest r;
  EXPECT_THAT(
      YamlToProto("titel: x\n", "letter.yaml", &r),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::AllOf(HasSubstr("letter.yaml"), HasSubstr("titel"))));
}

TEST(YamlToProtoTest, WrongTypeIsRefused) {
  config::v1::Config c;
  EXPECT_THAT(YamlToProto("broker: {port: many}\n", "config", &c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("port")));
}

TEST(YamlToProtoTest, BadYamlIsRefused) {
  v1::SubmitLetterRequest r;
  EXPECT_THAT(
      YamlToProto("title: [unclosed\n", "letter", &r),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("letter")));
}

// Found by fuzz/config_fuzzer (fuzz/regressions/config/): bytes that are
// not UTF-8 ended the process with an uncaught exception.
TEST(YamlToProtoTest, TextThatIsNotUtf8IsRefused) {
  config::v1::Config c;
  EXPECT_THAT(YamlToProto("\xd5*\n", "config", &c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not valid UTF-8")));
  v1::SubmitLetterRequest r;
  EXPECT_THAT(
      YamlToProto("title: \"\\uD800\"\n", "letter", &r),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("letter")));
  EXPECT_THAT(YamlToProto("title: \"V\xe6"
                          "dtak\"\n",
                          "letter", &r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not valid UTF-8")));
}

}  // namespace
}  // namespace utpost
