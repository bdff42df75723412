// UUIDs in their text form, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
#ifndef UTPOST_COMMON_UUID_H_
#define UTPOST_COMMON_UUID_H_

#include <string_view>

namespace utpost {

// True for 8-4-4-4-12 hex digits, in either case.
bool IsUuid(std::string_view s);
// True for 8-4-4-4-12 lowercase hex digits (how Utpost writes them).
bool IsLowercaseUuid(std::string_view s);

}  // namespace utpost

#endif  // UTPOST_COMMON_UUID_H_
