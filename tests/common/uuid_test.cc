#include "common/uuid.h"

#include "gtest/gtest.h"

namespace utpost {
namespace {

TEST(UuidTest, TextFormInEitherCase) {
  EXPECT_TRUE(IsUuid("7c9e6679-7425-40de-944b-e07fc1f90ae7"));
  EXPECT_TRUE(IsUuid("7C9E6679-7425-40DE-944B-E07FC1F90AE7"));
  EXPECT_TRUE(IsLowercaseUuid("7c9e6679-7425-40de-944b-e07fc1f90ae7"));
  EXPECT_FALSE(IsLowercaseUuid("7C9E6679-7425-40DE-944B-E07FC1F90AE7"));
}

TEST(UuidTest, RefusesOtherShapes) {
  for (const char* s : {"", "7c9e6679742540de944be07fc1f90ae7",
                        "7c9e6679-7425-40de-944b-e07fc1f90ae",
                        "7c9e6679-7425-40de-944b-e07fc1f90ae77",
                        "7c9e6679-7425-40de-944be-07fc1f90ae7",
                        "7c9e6679-7425-40de-944b-e07fc1f90aeg"}) {
    EXPECT_FALSE(IsUuid(s)) << s;
    EXPECT_FALSE(IsLowercaseUuid(s)) << s;
  }
}

}  // namespace
}  // namespace utpost
