// Masking of personal data before it reaches a log line.
#ifndef UTPOST_COMMON_MASK_H_
#define UTPOST_COMMON_MASK_H_

#include <string>
#include <string_view>

namespace utpost {

// "01017012345" -> "010170*****". Anything that is not 11 characters is
// masked whole, so a malformed number never leaks either.
std::string MaskPersonNumber(std::string_view number);

// Replaces every run of exactly 11 digits in `text` by its mask. For free
// text (error messages from providers) that may quote a number.
std::string MaskPersonNumbersIn(std::string_view text);

// True when `digits` is 11 digits that pass the person number checks
// (date with the D-, H- and synthetic offsets, both check digits, the 2032
// rule): a birth number or D number someone could be identified by.
bool IsValidPersonNumber(std::string_view digits);

// Masks each run of exactly 11 digits in `text` that IsValidPersonNumber;
// leaves other digit runs (times, counts, ids) alone. The log sink's last
// line of defence.
std::string MaskValidPersonNumbersIn(std::string_view text);

}  // namespace utpost

#endif  // UTPOST_COMMON_MASK_H_
