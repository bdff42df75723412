#include "gateway/api/countries.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace utpost::api {
namespace {

// Debian's iso-codes package is the oracle: the list must be ISO's, not
// ours.
TEST(CountriesTest, SameAsDebianIsoCodes) {
  std::ifstream in("/usr/share/iso-codes/json/iso_3166-1.json");
  ASSERT_TRUE(in) << "iso-codes is not installed (scripts/install-deps.sh)";
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str());
  std::set<std::string> iso;
  for (const auto& country : json["3166-1"]) {
    iso.insert(country["alpha_2"].get<std::string>());
  }
  std::set<std::string> ours(IsoCountryCodes().begin(),
                             IsoCountryCodes().end());
  EXPECT_EQ(ours, iso);
  EXPECT_EQ(ours.size(), 249u);
}

TEST(CountriesTest, Lookups) {
  EXPECT_TRUE(IsIsoCountryCode("NO"));
  EXPECT_TRUE(IsIsoCountryCode("AX"));
  EXPECT_TRUE(IsIsoCountryCode("ZW"));
  EXPECT_FALSE(IsIsoCountryCode("UK"));
  EXPECT_FALSE(IsIsoCountryCode("XK"));
  EXPECT_FALSE(IsIsoCountryCode("no"));
  EXPECT_FALSE(IsIsoCountryCode("NOR"));
  EXPECT_FALSE(IsIsoCountryCode(""));
}

}  // namespace
}  // namespace utpost::api
