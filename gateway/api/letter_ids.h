// Letter ids: random (version 4) UUIDs in lowercase text form.
#ifndef UTPOST_GATEWAY_API_LETTER_IDS_H_
#define UTPOST_GATEWAY_API_LETTER_IDS_H_

#include <string>
#include <string_view>

namespace utpost::api {

// Thread-safe; from the OpenSSL random generator.
std::string NewLetterId();

// True for "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in lowercase hex.
bool IsLetterId(std::string_view id);

// True for a non-empty start of a letter id: at most 36 lowercase hex
// digits and dashes. Such a prefix holds no SQL GLOB or LIKE wildcard.
bool IsLetterIdPrefix(std::string_view prefix);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_LETTER_IDS_H_
