#include "gateway/api/identifiers.h"

#include <array>
#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/text.h"

namespace utpost::api {
namespace {

constexpr std::array<int, 9> kK1Weights = {3, 7, 6, 1, 8, 9, 4, 5, 2};
constexpr std::array<int, 10> kK2Weights = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
constexpr std::array<int, 8> kOrgWeights = {3, 2, 7, 6, 5, 4, 3, 2};

constexpr const char* kMonthNames[] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

// Checks length and digits. The message names positions and counts only,
// never the characters, as the input may be a person number.
absl::Status CheckDigits(std::string_view number, size_t length) {
  if (!IsValidUtf8(number)) {
    return absl::InvalidArgumentError("not valid UTF-8");
  }
  // Counted in characters, as the client counts: 11 full-width digits are
  // 33 bytes but 11 characters, none of them a digit.
  if (size_t n = CountCodePoints(number); n != length) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be ", length, " digits, got ", n, " characters"));
  }
  for (size_t i = 0; i < number.size(); ++i) {
    if (number[i] < '0' || number[i] > '9') {
      return absl::InvalidArgumentError(absl::StrCat(
          "must be ", length, " digits; position ",
          CountCodePoints(number.substr(0, i)) + 1, " is not a digit"));
    }
  }
  return absl::OkStatus();
}

int Digit(std::string_view number, size_t index) { return number[index] - '0'; }

template <size_t N>
int WeightedSum(std::string_view number, const std::array<int, N>& weights) {
  int sum = 0;
  for (size_t i = 0; i < N; ++i) sum += weights[i] * Digit(number, i);
  return sum;
}

bool IsLeapYear(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeapYear(year)) return 29;
  return kDays[month - 1];
}

// The century of a classic number, from its individual number (digits 7-9)
// and two-digit year. Returns 0 when the combination is outside every range.
int CenturyFromIndividualNumber(int individual, int yy) {
  if (individual <= 499) return 1900;
  if (individual <= 749 && yy >= 54) return 1800;
  if (yy <= 39) return 2000;  // 500-999 with year 00-39.
  if (individual >= 900) return 1900;
  return 0;
}

}  // namespace

absl::StatusOr<PersonNumberInfo> ParsePersonNumber(std::string_view number) {
  if (absl::Status s = CheckDigits(number, 11); !s.ok()) return s;

  // The check digits decide how much the individual number tells about the
  // century, so they are computed before the date is checked; the date error
  // is still reported first, as it is the more useful one.
  const int k1 = Digit(number, 9);
  const int k1_remainder = (WeightedSum(number, kK1Weights) + k1) % 11;
  // Today's rule wants remainder 0. Numbers issued from 2032 may also have
  // remainder 1, 2 or 3, which gives up to four valid first check digits.
  const bool k1_classic = k1_remainder == 0;
  const bool k1_valid = k1_remainder <= 3;
  // The second check digit has one valid value under both rules, computed
  // over digits 1-10 as written; remainder 1 leaves no valid digit.
  const int k2_remainder = WeightedSum(number, kK2Weights) % 11;
  const int k2_expected = k2_remainder == 0 ? 0 : 11 - k2_remainder;
  const bool k2_valid = k2_expected != 10 && k2_expected == Digit(number, 10);

  PersonNumberInfo info;
  int day = Digit(number, 0) * 10 + Digit(number, 1);
  int month = Digit(number, 2) * 10 + Digit(number, 3);
  const int yy = Digit(number, 4) * 10 + Digit(number, 5);
  const int individual =
      Digit(number, 6) * 100 + Digit(number, 7) * 10 + Digit(number, 8);

  // The first digit of a D-number is 4-7 and the month of an H-number 41-52
  // (synthetic: 81-92). Offsets are taken off by leading digit, so that an
  // error can name the day or month as the form means it.
  if (day >= 40 && day <= 79) {
    info.d_number = true;
    day -= 40;
  }
  const char* month_form = "";
  if (month >= 40 && month <= 59) {
    info.kind = PersonNumberKind::kHNumber;
    month_form = " of an H-number";
    month -= 40;
  } else if (month >= 80 && month <= 99) {
    info.kind = PersonNumberKind::kSynthetic;
    month_form = " of a synthetic number";
    month -= 80;
  } else if (info.d_number) {
    info.kind = PersonNumberKind::kDNumber;
  }

  const char* form = info.d_number ? " of a D-number" : "";
  if (month < 1 || month > 12) {
    return absl::InvalidArgumentError(absl::StrCat(
        "digits 1-6 are not a valid date (month ", month, month_form, ")"));
  }
  if (day < 1 || day > 31) {
    return absl::InvalidArgumentError(
        absl::StrCat("digits 1-6 are not a valid date (day ", day, form, ")"));
  }

  // Under the 2032 rule the individual number no longer tells the century.
  info.issued_under_2032_rule = k1_valid && !k1_classic;
  int century = CenturyFromIndividualNumber(individual, yy);
  info.century_known = century != 0 && !info.issued_under_2032_rule;
  if (century == 0) century = 1900;
  int year = century + yy;
  if (!info.century_known && month == 2 && day == 29 && yy == 0) {
    // Of 1900 and 2000 only 2000 has a 29 February; with the century
    // unknown, take the reading that makes the date real.
    year = 2000;
  }

  if (day > DaysInMonth(year, month)) {
    if (month == 2 && day == 29) {
      return absl::InvalidArgumentError(
          absl::StrCat("digits 1-6 are not a valid date (day 29", form,
                       ", February ", year, " has 28 days)"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "digits 1-6 are not a valid date (day ", day, form, ", ",
        kMonthNames[month - 1], " has ", DaysInMonth(year, month), " days)"));
  }
  info.birth_date = absl::CivilDay(year, month, day);

  if (!k1_valid) {
    return absl::InvalidArgumentError("check digit at position 10 is wrong");
  }
  if (k2_expected == 10) {
    return absl::InvalidArgumentError(
        "check digit at position 11 is wrong: no digit fits digits 1-10");
  }
  if (!k2_valid) {
    return absl::InvalidArgumentError("check digit at position 11 is wrong");
  }
  return info;
}

absl::Status ValidatePersonNumber(std::string_view number) {
  return ParsePersonNumber(number).status();
}

absl::Status ValidateOrganisationNumber(std::string_view number) {
  if (absl::Status s = CheckDigits(number, 9); !s.ok()) return s;
  const int remainder = WeightedSum(number, kOrgWeights) % 11;
  const int expected = remainder == 0 ? 0 : 11 - remainder;
  if (expected == 10) {
    // Brønnøysund never issues these, so no ninth digit can make it valid.
    return absl::InvalidArgumentError(
        "check digit at position 9 is wrong: no digit fits digits 1-8");
  }
  if (expected != Digit(number, 8)) {
    return absl::InvalidArgumentError("check digit at position 9 is wrong");
  }
  return absl::OkStatus();
}

}  // namespace utpost::api
