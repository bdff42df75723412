#include "cli/arguments.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::cli {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Letter;

TEST(ParseStateTest, TakesStatesInAnyCase) {
  EXPECT_THAT(ParseState("DELIVERED", "--state"), IsOk());
  EXPECT_EQ(*ParseState("delivered", "--state"), Letter::DELIVERED);
  EXPECT_EQ(*ParseState("Parked", "--state"), Letter::PARKED);
  EXPECT_EQ(*ParseState("sent_print", "--state"), Letter::SENT_PRINT);
}

TEST(ParseStateTest, AnUnknownStateListsTheValidOnesAndTheNearest) {
  auto r = ParseState("delivred", "--state");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("--state"),
                                HasSubstr("did you mean DELIVERED?"),
                                HasSubstr("RECEIVED, QUEUED, ROUTED"),
                                HasSubstr("PARKED"))));
  EXPECT_THAT(ParseState("STATE_UNSPECIFIED", "--state"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("valid")));
  EXPECT_THAT(ParseState("", "--state"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("valid")));
}

TEST(StateListTest, IsInLifecycleOrderWithoutUnspecified) {
  EXPECT_EQ(StateList(),
            "RECEIVED, QUEUED, ROUTED, SENT_DIGITAL, DELIVERED, READ, "
            "SENT_PRINT, PRINTED, FAILED, CANCELLED, PARKED");
}

TEST(CheckChannelTest, KnowsTheFourChannels) {
  for (const char* c : {"digital", "dpi", "altinn", "print"}) {
    EXPECT_THAT(CheckChannel(c, "--channel"), IsOk()) << c;
  }
  EXPECT_THAT(CheckChannel("email", "--channel"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--channel: unknown channel \"email\""),
                             HasSubstr("digital, dpi, altinn, print"))));
  EXPECT_THAT(CheckChannel("prnt", "channel"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("did you mean print?")));
  EXPECT_THAT(CheckChannel("Print", "channel"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("did you mean print?")));
}

TEST(CheckTenantTest, WantsNineDigits) {
  EXPECT_THAT(CheckTenant("964338531", "--tenant"), IsOk());
  EXPECT_THAT(CheckTenant("123", "--tenant"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--tenant: \"123\" is not an organisation")));
  EXPECT_THAT(CheckTenant("96433853a", "--tenant"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("9")));
}

TEST(CheckPageSizeTest, WantsOneToAThousand) {
  EXPECT_THAT(CheckPageSize(1, "--page-size"), IsOk());
  EXPECT_THAT(CheckPageSize(1000, "--page-size"), IsOk());
  EXPECT_THAT(CheckPageSize(5000, "--page-size"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--page-size: 5000 is out of range")));
  EXPECT_THAT(CheckPageSize(0, "--page-size"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 to")));
}

TEST(IsFollowedToStateTest, StopsAtStatesThatNeedNoMoreWork) {
  EXPECT_TRUE(IsFollowedToState(Letter::DELIVERED));
  EXPECT_TRUE(IsFollowedToState(Letter::SENT_PRINT));
  EXPECT_TRUE(IsFollowedToState(Letter::PARKED));
  EXPECT_FALSE(IsFollowedToState(Letter::RECEIVED));
  EXPECT_FALSE(IsFollowedToState(Letter::QUEUED));
  EXPECT_FALSE(IsFollowedToState(Letter::ROUTED));
  EXPECT_FALSE(IsFollowedToState(Letter::SENT_DIGITAL));
}

TEST(ParseLetterArgumentTest, TellsIdsFromPrefixes) {
  auto whole =
      ParseLetterArgument("letters/0B7C9F2E-5D1A-4C3E-9F00-1A2B3C4D5E6F");
  ASSERT_THAT(whole, IsOk());
  EXPECT_EQ(whole->id, "0b7c9f2e-5d1a-4c3e-9f00-1a2b3c4d5e6f");
  EXPECT_EQ(whole->prefix, "");
  auto prefix = ParseLetterArgument("0b7c9F");
  ASSERT_THAT(prefix, IsOk());
  EXPECT_EQ(prefix->id, "");
  EXPECT_EQ(prefix->prefix, "0b7c9f");
  EXPECT_THAT(
      ParseLetterArgument("0b7"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least 4")));
  EXPECT_THAT(ParseLetterArgument("0b7c*"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a letter id")));
  EXPECT_THAT(ParseLetterArgument("hello-world"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a letter id")));
}

}  // namespace
}  // namespace utpost::cli
