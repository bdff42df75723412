#include "sim/persons.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::sim {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

// Today's mod-11 rule for both check digits (PROTOCOLS.md); enough for the
// sample file, which uses no numbers issued under the 2032 rule.
bool ValidPersonNumber(const std::string& n) {
  if (n.size() != 11) return false;
  for (char c : n) {
    if (c < '0' || c > '9') return false;
  }
  auto digit = [&n](int i) { return n[i] - '0'; };
  auto check = [&digit](const std::vector<int>& weights) {
    int sum = 0;
    for (size_t i = 0; i < weights.size(); ++i) sum += digit(i) * weights[i];
    int k = 11 - sum % 11;
    return k == 11 ? 0 : k;
  };
  int k1 = check({3, 7, 6, 1, 8, 9, 4, 5, 2});
  int k2 = check({5, 4, 3, 2, 7, 6, 5, 4, 3, 2});
  return k1 != 10 && k2 != 10 && k1 == digit(9) && k2 == digit(10);
}

// Synthetic test persons have month + 80, so no real person has the number.
bool Synthetic(const std::string& n) {
  int month = (n[2] - '0') * 10 + (n[3] - '0');
  return month >= 81 && month <= 92;
}

TEST(SimPersonsTest, SampleFileHoldsEveryKindOfPerson) {
  auto persons = LoadPersons("sim/data/persons.yaml");
  ASSERT_THAT(persons, IsOk());
  int digipost = 0, reserved = 0, deleted = 0, other_mailbox = 0,
      no_mailbox = 0;
  for (const SimPerson& p : *persons) {
    EXPECT_TRUE(ValidPersonNumber(p.number)) << p.number;
    EXPECT_TRUE(Synthetic(p.number)) << p.number;
    if (p.deleted) {
      ++deleted;
    } else if (p.reserved) {
      ++reserved;
    } else if (p.mailbox_provider == kDigipostOrganisation) {
      ++digipost;
    } else if (!p.mailbox_provider.empty()) {
      ++other_mailbox;
    } else {
      ++no_mailbox;
    }
  }
  EXPECT_GE(digipost, 3);
  EXPECT_GE(reserved, 2);
  EXPECT_GE(deleted, 1);
  EXPECT_GE(other_mailbox, 1);
  EXPECT_GE(no_mailbox, 1);
}

TEST(SimPersonsTest, ReadsAfterSeconds) {
  auto persons = ParsePersons(R"(
persons:
  - number: "01817010055"
    reads_after_seconds: 5
    digital_post: {postkasseadresse: a, postkasseleverandoeradresse: "984661185"}
  - number: "15838210012"
)");
  ASSERT_THAT(persons, IsOk());
  EXPECT_EQ((*persons)[0].reads_after_seconds, 5);
  EXPECT_EQ((*persons)[1].reads_after_seconds, -1);
  EXPECT_FALSE(ParsePersons(R"(
persons:
  - number: "01817010055"
    reads_after_seconds: soon
)")
                   .ok());
}

TEST(SimPersonsTest, TheDocumentedUnregisteredNumberIsValidAndAbsent) {
  const std::string unregistered = "04847910181";
  EXPECT_TRUE(ValidPersonNumber(unregistered));
  auto persons = LoadPersons("sim/data/persons.yaml");
  ASSERT_THAT(persons, IsOk());
  EXPECT_TRUE(std::none_of(
      persons->begin(), persons->end(),
      [&](const SimPerson& p) { return p.number == unregistered; }));
}

TEST(SimPersonsTest, ParsesAllFields) {
  auto persons = ParsePersons(R"(
persons:
  - number: "01817010055"
    name: Kari
    status: AKTIV
    reservasjon: NEI
    email: k@example.invalid
    mobile: "+4799"
    digital_post:
      postkasseadresse: kari#1
      postkasseleverandoeradresse: "984661185"
  - number: "23897510170"
    status: SLETTET
)");
  ASSERT_THAT(persons, IsOk());
  ASSERT_EQ(persons->size(), 2u);
  const SimPerson& kari = (*persons)[0];
  EXPECT_EQ(kari.name, "Kari");
  EXPECT_FALSE(kari.deleted);
  EXPECT_FALSE(kari.reserved);
  EXPECT_EQ(kari.email, "k@example.invalid");
  EXPECT_EQ(kari.mobile, "+4799");
  EXPECT_EQ(kari.mailbox_address, "kari#1");
  EXPECT_EQ(kari.mailbox_provider, "984661185");
  EXPECT_TRUE((*persons)[1].deleted);
}

TEST(SimPersonsTest, RefusesMalformedEntries) {
  EXPECT_THAT(ParsePersons("persons: {}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("list")));
  EXPECT_THAT(ParsePersons("persons:\n  - number: 1817010055\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("persons[0].number")));
  EXPECT_THAT(
      ParsePersons("persons:\n  - number: \"01817010055\"\n    status: DOD\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("status")));
  EXPECT_THAT(
      ParsePersons("persons:\n  - number: \"01817010055\"\n"
                   "    reservasjon: KANSKJE\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reservasjon")));
  EXPECT_THAT(
      ParsePersons("persons:\n  - number: \"01817010055\"\n"
                   "    digital_post: {postkasseadresse: x}\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("digital_post")));
  EXPECT_THAT(ParsePersons("persons:\n  - number: \"01817010055\"\n"
                           "  - number: \"01817010055\"\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("persons[1].number: listed twice")));
  EXPECT_THAT(ParsePersons("persons: [unclosed"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(
      LoadPersons("sim/data/none.yaml"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("none.yaml")));
}

}  // namespace
}  // namespace utpost::sim
