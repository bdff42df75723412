#include "gateway/api/tenant_limiter.h"

#include <map>
#include <string>

#include "common/clock.h"
#include "common/retry_delay.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

constexpr char kBergen[] = "964338531";
constexpr char kOslo[] = "958935420";

TEST(TenantLimiterTest, NoLimitTakesEveryLetter) {
  FakeClock clock(1'000'000);
  TenantLimiter limiter({}, TenantLimit{}, &clock);
  for (int i = 0; i < 10'000; ++i)
    ASSERT_THAT(limiter.TakeLetter(kOslo), IsOk());
}

TEST(TenantLimiterTest, BurstThenRefusedWithTheTimeToTheNextToken) {
  FakeClock clock(1'000'000);
  TenantLimiter limiter(
      {{kBergen, TenantLimit{.letters_per_second = 4, .burst = 3}}},
      TenantLimit{}, &clock);
  for (int i = 0; i < 3; ++i) ASSERT_THAT(limiter.TakeLetter(kBergen), IsOk());
  const absl::Status refused = limiter.TakeLetter(kBergen);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted,
                                HasSubstr("tenant 964338531 is over its rate "
                                          "of 4 letters a second")));
  // One token at 4 a second: 250 ms.
  EXPECT_THAT(RetryDelayMillis(refused), Optional(250));

  // A refusal costs nothing: after the delay exactly one more letter.
  clock.Advance(250);
  EXPECT_THAT(limiter.TakeLetter(kBergen), IsOk());
  EXPECT_THAT(limiter.TakeLetter(kBergen),
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));

  // Idle long enough, the bucket is full again, never fuller than the burst.
  clock.Advance(60'000);
  for (int i = 0; i < 3; ++i) ASSERT_THAT(limiter.TakeLetter(kBergen), IsOk());
  EXPECT_THAT(limiter.TakeLetter(kBergen),
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));
}

TEST(TenantLimiterTest, TheDelayShrinksAsTheBucketFills) {
  FakeClock clock(0);
  TenantLimiter limiter(
      {{kBergen, TenantLimit{.letters_per_second = 1, .burst = 1}}},
      TenantLimit{}, &clock);
  ASSERT_THAT(limiter.TakeLetter(kBergen), IsOk());
  EXPECT_THAT(RetryDelayMillis(limiter.TakeLetter(kBergen)), Optional(1000));
  clock.Advance(600);
  EXPECT_THAT(RetryDelayMillis(limiter.TakeLetter(kBergen)), Optional(400));
}

TEST(TenantLimiterTest, EachTenantHasItsOwnBucket) {
  FakeClock clock(0);
  const TenantLimit others{.letters_per_second = 2, .burst = 2};
  TenantLimiter limiter(
      {{kBergen, TenantLimit{.letters_per_second = 1, .burst = 1}}}, others,
      &clock);
  ASSERT_THAT(limiter.TakeLetter(kBergen), IsOk());
  EXPECT_THAT(limiter.TakeLetter(kBergen),
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));
  // Bergen's refusal leaves Oslo's bucket alone; Oslo has the others' limit
  // in a bucket of its own, as has a third tenant.
  EXPECT_THAT(limiter.TakeLetter(kOslo), IsOk());
  EXPECT_THAT(limiter.TakeLetter(kOslo), IsOk());
  EXPECT_THAT(limiter.TakeLetter(kOslo),
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));
  EXPECT_THAT(limiter.TakeLetter("974760673"), IsOk());
  EXPECT_EQ(limiter.LimitOf(kOslo).letters_per_second, 2);
  EXPECT_EQ(limiter.LimitOf(kBergen).letters_per_second, 1);
}

TEST(TenantLimiterTest, TheDefaultBurstIsOneSecondsWorthAndAtLeastOne) {
  FakeClock clock(0);
  TenantLimiter limiter({{kBergen, TenantLimit{.letters_per_second = 5}},
                         {kOslo, TenantLimit{.letters_per_second = 0.5}}},
                        TenantLimit{}, &clock);
  for (int i = 0; i < 5; ++i) ASSERT_THAT(limiter.TakeLetter(kBergen), IsOk());
  EXPECT_THAT(limiter.TakeLetter(kBergen),
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));
  ASSERT_THAT(limiter.TakeLetter(kOslo), IsOk());
  EXPECT_THAT(RetryDelayMillis(limiter.TakeLetter(kOslo)), Optional(2000));
}

TEST(TenantLimiterTest, AClockThatStepsBackGivesNoTokens) {
  FakeClock clock(10'000);
  TenantLimiter limiter(
      {{kBergen, TenantLimit{.letters_per_second = 1, .burst = 1}}},
      TenantLimit{}, &clock);
  ASSERT_THAT(limiter.TakeLetter(kBergen), IsOk());
  clock.Set(5'000);
  EXPECT_THAT(limiter.TakeLetter(kBergen),
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));
  clock.Set(11'000);
  EXPECT_THAT(limiter.TakeLetter(kBergen), IsOk());
}

}  // namespace
}  // namespace utpost::api
