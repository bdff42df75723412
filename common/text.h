// Checks of text that comes from outside: valid UTF-8, length in
// characters, and characters that have no place in a single line of text a
// person reads (control characters, bidirectional overrides).
#ifndef UTPOST_COMMON_TEXT_H_
#define UTPOST_COMMON_TEXT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace utpost {

// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// The length in bytes of the longest prefix of `text` that is valid UTF-8
// made of whole characters: text.size() when all of it is.
size_t ValidUtf8Prefix(std::string_view text);

// The number of Unicode code points in `text`: the bytes that do not
// continue a sequence. For text that is not valid UTF-8 it is a count of
// such bytes, which is what a length limit needs before validity is known.
size_t CountCodePoints(std::string_view text);

// A character refused in a single line of text: where it is and what it is.
struct ForbiddenCharacter {
  // 1-based position in characters (code points).
  size_t position = 0;
  // E.g. "U+0000 (a control character)", "U+202E (a bidirectional
  // control)".
  std::string description;
};

// The first character of `text` (valid UTF-8) that a single line of text
// must not hold: C0 and C1 control characters and DEL (NUL, tab, CR, LF,
// ESC...), the bidirectional controls U+061C, U+200E, U+200F, U+202A to
// U+202E and U+2066 to U+2069, the line and paragraph separators U+2028 and
// U+2029, and U+FEFF. None when there is none.
std::optional<ForbiddenCharacter> FindForbiddenCharacter(std::string_view text);

// `utf8` in Windows-1252, the encoding PDF text in libharu's standard and
// embedded fonts is written in: ASCII and Latin-1 letters (æ, ø, å, é...)
// as themselves, the euro sign as 0x80, control characters as spaces (no
// control characters on paper), anything else and malformed bytes as '?'.
std::string Utf8ToCp1252(std::string_view utf8);

}  // namespace utpost

#endif  // UTPOST_COMMON_TEXT_H_
