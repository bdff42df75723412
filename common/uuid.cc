#include "common/uuid.h"

namespace utpost {
namespace {

bool IsUuidWith(std::string_view s, bool lowercase_only) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                 (!lowercase_only && c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsUuid(std::string_view s) { return IsUuidWith(s, false); }

bool IsLowercaseUuid(std::string_view s) { return IsUuidWith(s, true); }

}  // namespace utpost
