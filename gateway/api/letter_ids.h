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

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_LETTER_IDS_H_
