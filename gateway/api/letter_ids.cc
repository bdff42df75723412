#include "gateway/api/letter_ids.h"

#include <openssl/rand.h>

#include <cstdio>

#include "common/uuid.h"

namespace utpost::api {

std::string NewLetterId() {
  unsigned char b[16];
  RAND_bytes(b, sizeof(b));
  b[6] = (b[6] & 0x0f) | 0x40;  // Version 4.
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant.
  char out[37];
  std::snprintf(
      out, sizeof(out),
      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
      b[12], b[13], b[14], b[15]);
  return out;
}

bool IsLetterId(std::string_view id) { return IsLowercaseUuid(id); }

bool IsLetterIdPrefix(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > 36) return false;
  for (char c : prefix) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace utpost::api
