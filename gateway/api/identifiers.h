// Checks of Norwegian identifiers: national identity numbers (birth number,
// D-number, H-number, synthetic test number) and organisation numbers.
//
// The rules follow Skatteetaten's description of the check digits, including
// the rule for numbers issued from 1 January 2032, and Brønnøysund's rule for
// organisation numbers. All functions are pure and thread-safe. Error
// messages give a reason and 1-based digit positions, and never quote the
// number itself, so they are safe to log and to return to a client.
#ifndef UTPOST_GATEWAY_API_IDENTIFIERS_H_
#define UTPOST_GATEWAY_API_IDENTIFIERS_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace utpost::api {

// What an 11-digit national identity number is, read from its date digits.
enum class PersonNumberKind {
  kBirthNumber,  // Fødselsnummer: DDMMYY as is.
  kDNumber,      // D-number: 4 added to the first digit (day 41-71).
  kHNumber,      // H-number: 40 added to the month (41-52).
  kSynthetic,    // Synthetic test person (Tenor): 80 added to the month.
};

struct PersonNumberInfo {
  PersonNumberKind kind = PersonNumberKind::kBirthNumber;
  // True when 40 is added to the day. Set for kDNumber, and also for
  // synthetic or H-numbers that are D-numbers underneath.
  bool d_number = false;
  // True when the first check digit is valid only under the rule for numbers
  // issued from 2032 (remainder 1, 2 or 3 instead of 0).
  bool issued_under_2032_rule = false;
  // Birth date with the century taken from the individual number ranges.
  // For numbers issued under the 2032 rule, and for individual numbers
  // outside the ranges, the century is a best guess: `century_known` is
  // false and the registry is the authority.
  absl::CivilDay birth_date;
  bool century_known = true;
};

// Parses and checks an 11-digit national identity number. Accepts birth
// numbers, D-numbers, H-numbers and synthetic numbers, with first check
// digits valid under today's rule or the 2032 rule. Fails INVALID_ARGUMENT
// with one of these reasons (checked in this order):
//   "must be 11 digits, got N characters"
//   "must be 11 digits; position P is not a digit"
//   "digits 1-6 are not a valid date (...)"
//   "check digit at position 10 is wrong"
//   "check digit at position 11 is wrong"
absl::StatusOr<PersonNumberInfo> ParsePersonNumber(std::string_view number);

// ParsePersonNumber without the details.
absl::Status ValidatePersonNumber(std::string_view number);

// Checks a 9-digit organisation number (mod 11 with weights
// 3,2,7,6,5,4,3,2). Fails INVALID_ARGUMENT with
//   "must be 9 digits, got N characters"
//   "must be 9 digits; position P is not a digit"
//   "check digit at position 9 is wrong"
absl::Status ValidateOrganisationNumber(std::string_view number);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_IDENTIFIERS_H_
