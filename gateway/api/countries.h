// ISO 3166-1 alpha-2 country codes, for postal addresses.
#ifndef UTPOST_GATEWAY_API_COUNTRIES_H_
#define UTPOST_GATEWAY_API_COUNTRIES_H_

#include <string_view>
#include <vector>

namespace utpost::api {

// True when `code` is one of the 249 officially assigned ISO 3166-1 alpha-2
// codes (upper case, e.g. "NO", "SE", "AX"). User-assigned and reserved
// codes (XK, EU, UK...) are not.
bool IsIsoCountryCode(std::string_view code);

// All of them, in alphabetical order.
const std::vector<std::string_view>& IsoCountryCodes();

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_COUNTRIES_H_
