#include "gateway/api/identifiers.h"

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

struct ValidPersonCase {
  const char* name;
  const char* number;
  PersonNumberKind kind;
  bool d_number;
  bool issued_under_2032_rule;
  absl::CivilDay birth_date;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const ValidPersonCase& c, std::ostream* os) { *os << c.name; }

class ValidPersonNumberTest : public ::testing::TestWithParam<ValidPersonCase> {
};

TEST_P(ValidPersonNumberTest, ParsesKindAndBirthDate) {
  const ValidPersonCase& c = GetParam();
  absl::StatusOr<PersonNumberInfo> info = ParsePersonNumber(c.number);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->kind, c.kind);
  EXPECT_EQ(info->d_number, c.d_number);
  EXPECT_EQ(info->issued_under_2032_rule, c.issued_under_2032_rule);
  EXPECT_EQ(info->birth_date, c.birth_date);
  EXPECT_THAT(ValidatePersonNumber(c.number), IsOk());
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, ValidPersonNumberTest,
    ::testing::Values(
        // Skatteetaten's example of a child born 2 January 2032.
        ValidPersonCase{"BirthNumber2032", "02013299997",
                        PersonNumberKind::kBirthNumber, false, false,
                        absl::CivilDay(2032, 1, 2)},
        ValidPersonCase{"BirthNumber1970", "01017012343",
                        PersonNumberKind::kBirthNumber, false, false,
                        absl::CivilDay(1970, 1, 1)},
        // Skatteetaten's example of a first 2032-rule number (remainder 0).
        ValidPersonCase{"BirthNumberRemainderZero", "30108299920",
                        PersonNumberKind::kBirthNumber, false, false,
                        absl::CivilDay(1982, 10, 30)},
        ValidPersonCase{"DNumber", "41017012337", PersonNumberKind::kDNumber,
                        true, false, absl::CivilDay(1970, 1, 1)},
        ValidPersonCase{"HNumber", "01417012326", PersonNumberKind::kHNumber,
                        false, false, absl::CivilDay(1970, 1, 1)},
        ValidPersonCase{"Synthetic", "01817012309",
                        PersonNumberKind::kSynthetic, false, false,
                        absl::CivilDay(1970, 1, 1)},
        ValidPersonCase{"SyntheticDNumber", "41817010049",
                        PersonNumberKind::kSynthetic, true, false,
                        absl::CivilDay(1970, 1, 1)},
        // Valid only under the 2032 rule: remainders 1, 2 and 3.
        // "30108299939" is Skatteetaten's example of a second number.
        ValidPersonCase{"Rule2032Remainder1", "30108299939",
                        PersonNumberKind::kBirthNumber, false, true,
                        absl::CivilDay(1982, 10, 30)},
        ValidPersonCase{"Rule2032Remainder2", "30108299947",
                        PersonNumberKind::kBirthNumber, false, true,
                        absl::CivilDay(1982, 10, 30)},
        ValidPersonCase{"Rule2032Remainder3", "30108299955",
                        PersonNumberKind::kBirthNumber, false, true,
                        absl::CivilDay(1982, 10, 30)},
        // Today's k1 would be 10 (no number); the 2032 rule allows 0.
        ValidPersonCase{"Rule2032WhereClassicK1Is10", "41817012300",
                        PersonNumberKind::kSynthetic, true, true,
                        absl::CivilDay(1970, 1, 1)},
        // 29 February: individual number 500-999 with year 00 is 2000.
        ValidPersonCase{"LeapDay2000", "29020052331",
                        PersonNumberKind::kBirthNumber, false, false,
                        absl::CivilDay(2000, 2, 29)},
        ValidPersonCase{"LeapDay1996", "29029640074",
                        PersonNumberKind::kBirthNumber, false, false,
                        absl::CivilDay(1996, 2, 29)},
        // Under the 2032 rule the individual number does not give the
        // century, so 29.02.00 may be 2000.
        ValidPersonCase{"LeapDayCenturyUnknown", "29020042387",
                        PersonNumberKind::kBirthNumber, false, true,
                        absl::CivilDay(2000, 2, 29)}),
    [](const ::testing::TestParamInfo<ValidPersonCase>& info) {
      return std::string(info.param.name);
    });

TEST(ParsePersonNumberTest, CenturyIsUnknownUnderThe2032Rule) {
  absl::StatusOr<PersonNumberInfo> classic = ParsePersonNumber("30108299920");
  absl::StatusOr<PersonNumberInfo> rule2032 = ParsePersonNumber("30108299939");
  ASSERT_THAT(classic, IsOk());
  ASSERT_THAT(rule2032, IsOk());
  EXPECT_TRUE(classic->century_known);
  EXPECT_FALSE(rule2032->century_known);
}

TEST(ParsePersonNumberTest, AllowsUpToFourFirstCheckDigits) {
  // For digits 1-9 "301082999" each k1 from 0 to 9 is tried with its only
  // possible k2; exactly the remainders 0-3 pass.
  int valid = 0;
  for (char k1 = '0'; k1 <= '9'; ++k1) {
    for (char k2 = '0'; k2 <= '9'; ++k2) {
      std::string number = std::string("301082999") + k1 + k2;
      if (ValidatePersonNumber(number).ok()) ++valid;
    }
  }
  EXPECT_EQ(valid, 4);
}

struct InvalidPersonCase {
  const char* name;
  const char* number;
  const char* reason;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const InvalidPersonCase& c, std::ostream* os) { *os << c.name; }

class InvalidPersonNumberTest
    : public ::testing::TestWithParam<InvalidPersonCase> {};

TEST_P(InvalidPersonNumberTest, FailsWithReasonAndWithoutTheNumber) {
  const InvalidPersonCase& c = GetParam();
  absl::Status status = ValidatePersonNumber(c.number);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               StartsWith(c.reason)));
  if (std::string(c.number).size() >= 11) {
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr(c.number)));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, InvalidPersonNumberTest,
    ::testing::Values(
        InvalidPersonCase{"Empty", "", "must be 11 digits, got 0 characters"},
        InvalidPersonCase{"TooShort", "0101701234",
                          "must be 11 digits, got 10 characters"},
        InvalidPersonCase{"TooLong", "010170123430",
                          "must be 11 digits, got 12 characters"},
        InvalidPersonCase{"WithSpace", "010170 12343",
                          "must be 11 digits, got 12 characters"},
        InvalidPersonCase{"NotADigit", "0101701234a",
                          "must be 11 digits; position 11 is not a digit"},
        InvalidPersonCase{"Day32", "32017012343",
                          "digits 1-6 are not a valid date (day 32)"},
        InvalidPersonCase{"Day0", "00017012343",
                          "digits 1-6 are not a valid date (day 0)"},
        InvalidPersonCase{"DNumberDay32", "72017012343",
                          "digits 1-6 are not a valid date (day 32 of a "
                          "D-number)"},
        InvalidPersonCase{"Month13", "01137012343",
                          "digits 1-6 are not a valid date (month 13)"},
        InvalidPersonCase{"Month0", "01007012343",
                          "digits 1-6 are not a valid date (month 0)"},
        InvalidPersonCase{"Month33", "01337012343",
                          "digits 1-6 are not a valid date (month 33)"},
        InvalidPersonCase{"HNumberMonth13", "01537012343",
                          "digits 1-6 are not a valid date (month 13 of an "
                          "H-number)"},
        InvalidPersonCase{"SyntheticMonth0", "01807012343",
                          "digits 1-6 are not a valid date (month 0 of a "
                          "synthetic number)"},
        InvalidPersonCase{"DNumberDay0", "40017012343",
                          "digits 1-6 are not a valid date (day 0 of a "
                          "D-number)"},
        InvalidPersonCase{"April31", "31047012343",
                          "digits 1-6 are not a valid date (day 31, April "
                          "has 30 days)"},
        InvalidPersonCase{"LeapDay1999", "29029912392",
                          "digits 1-6 are not a valid date (day 29, February "
                          "1999 has 28 days)"},
        // Individual number 000-499 with year 00 is 1900, not a leap year.
        InvalidPersonCase{"LeapDay1900", "29020042379",
                          "digits 1-6 are not a valid date (day 29, February "
                          "1900 has 28 days)"},
        InvalidPersonCase{"BadK1", "01017012393",
                          "check digit at position 10 is wrong"},
        // Today's k1 would be 10, and 9 gives remainder 10 under the 2032
        // rule.
        InvalidPersonCase{"K1WouldBe10", "41817012390",
                          "check digit at position 10 is wrong"},
        InvalidPersonCase{"BadK2", "01017012344",
                          "check digit at position 11 is wrong"},
        InvalidPersonCase{"BadK2Under2032Rule", "30108299930",
                          "check digit at position 11 is wrong"},
        // Digits 1-10 "2902961233" leave remainder 1: k2 would be 10.
        InvalidPersonCase{"K2WouldBe10", "29029612330",
                          "check digit at position 11 is wrong: no digit "
                          "fits digits 1-10"}),
    [](const ::testing::TestParamInfo<InvalidPersonCase>& info) {
      return std::string(info.param.name);
    });

TEST(ValidateOrganisationNumberTest, AcceptsRealPublicSectorNumbers) {
  for (const char* number :
       {"974760673", "923609016", "964338531", "958935420"}) {
    SCOPED_TRACE(number);
    EXPECT_THAT(ValidateOrganisationNumber(number), IsOk());
  }
}

struct InvalidOrganisationCase {
  const char* name;
  const char* number;
  const char* reason;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const InvalidOrganisationCase& c, std::ostream* os) {
  *os << c.name;
}

class InvalidOrganisationNumberTest
    : public ::testing::TestWithParam<InvalidOrganisationCase> {};

TEST_P(InvalidOrganisationNumberTest, FailsWithReason) {
  const InvalidOrganisationCase& c = GetParam();
  EXPECT_THAT(
      ValidateOrganisationNumber(c.number),
      StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.reason)));
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, InvalidOrganisationNumberTest,
    ::testing::Values(
        InvalidOrganisationCase{"Empty", "", "must be 9 digits, got 0"},
        InvalidOrganisationCase{"TooShort", "97476067",
                                "must be 9 digits, got 8 characters"},
        InvalidOrganisationCase{"PersonNumber", "01017012343",
                                "must be 9 digits, got 11 characters"},
        InvalidOrganisationCase{"WithSpaces", "974 760 673",
                                "must be 9 digits, got 11 characters"},
        InvalidOrganisationCase{"NotADigit", "97476O673",
                                "must be 9 digits; position 6 is not a digit"},
        InvalidOrganisationCase{"BadCheckDigit", "974760672",
                                "check digit at position 9 is wrong"},
        InvalidOrganisationCase{"CheckDigitWouldBe10", "974760690",
                                "check digit at position 9 is wrong: no digit "
                                "fits digits 1-8"}),
    [](const ::testing::TestParamInfo<InvalidOrganisationCase>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace utpost::api
