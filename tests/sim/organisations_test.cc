#include "sim/organisations.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

TEST(OrganisationsTest, TheSampleFileLoads) {
  auto organisations = LoadOrganisations("sim/data/organisations.yaml");
  ASSERT_THAT(organisations, IsOk());
  ASSERT_GE(organisations->size(), 4u);
  const SimOrganisation& first = (*organisations)[0];
  EXPECT_EQ(first.number, "910000004");
  EXPECT_TRUE(first.altinn_party);  // The default.
  EXPECT_EQ(first.read_after_ms, 2000);
  EXPECT_THAT(first.address_lines, ElementsAre("Postboks 100 Sentrum"));
  // The "org-no-inbox" routing rows need an active unit Altinn does not
  // know.
  bool some_without_inbox = false;
  bool some_deleted = false;
  for (const SimOrganisation& o : *organisations) {
    some_without_inbox |= !o.altinn_party && o.deleted_date.empty();
    some_deleted |= !o.deleted_date.empty();
  }
  EXPECT_TRUE(some_without_inbox);
  EXPECT_TRUE(some_deleted);
}

TEST(OrganisationsTest, RefusesBadEntries) {
  EXPECT_THAT(ParseOrganisations("organisations: [{number: \"12\"}]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("organisations[0].number")));
  EXPECT_THAT(
      ParseOrganisations(R"(organisations:
  - {number: "910000004"}
  - {number: "910000004"})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("listed twice")));
  EXPECT_THAT(
      ParseOrganisations(
          R"(organisations: [{number: "910000004", altinn_party: maybe}])"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("altinn_party")));
  // The old field claimed what Altinn does not publish.
  EXPECT_THAT(ParseOrganisations(
                  R"(organisations: [{number: "910000004", inbox: true}])"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("replaced by altinn_party")));
}

}  // namespace
}  // namespace utpost::sim
