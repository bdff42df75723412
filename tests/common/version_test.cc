#include "common/version.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost {
namespace {

TEST(VersionTest, IsTheCMakeProjectVersion) {
  EXPECT_EQ(std::string(Version()), EXPECTED_VERSION);
  EXPECT_THAT(Version(), ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
}

TEST(VersionTest, LineNamesTheProgram) {
  EXPECT_EQ(VersionLine("utpostd"), std::string("utpostd ") + EXPECTED_VERSION);
}

}  // namespace
}  // namespace utpost
