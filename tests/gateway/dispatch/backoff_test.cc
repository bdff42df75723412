#include "gateway/dispatch/backoff.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::dispatch {
namespace {

using ::testing::ElementsAre;

TEST(BackoffTest, DefaultsGrowByThreeUpToAnHour) {
  EXPECT_THAT(BackoffDelays({}), ElementsAre(20, 60, 180, 540, 1620, 3600));
}

TEST(BackoffTest, CapIsExactAndLast) {
  EXPECT_THAT(BackoffDelays({1, 2, 10}), ElementsAre(1, 2, 4, 8, 10));
  EXPECT_THAT(BackoffDelays({5, 2, 5}), ElementsAre(5));
  EXPECT_THAT(BackoffDelays({10, 2, 3}), ElementsAre(10));
}

TEST(BackoffTest, MultiplierOneIsOneDelay) {
  EXPECT_THAT(BackoffDelays({7, 1, 100}), ElementsAre(7));
}

TEST(BackoffTest, DelayBeforeRepeatsTheLast) {
  std::vector<int> d = {1, 3, 9};
  EXPECT_EQ(DelayBefore(d, 1), 1);
  EXPECT_EQ(DelayBefore(d, 2), 3);
  EXPECT_EQ(DelayBefore(d, 3), 9);
  EXPECT_EQ(DelayBefore(d, 10), 9);
}

}  // namespace
}  // namespace utpost::dispatch
