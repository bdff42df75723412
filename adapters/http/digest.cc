#include "adapters/http/digest.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace utpost::adapters {

std::string Sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest with SHA-256 cannot fail short of memory exhaustion, where
  // an empty digest makes every later comparison fail loudly.
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) !=
      1) {
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string NameBasedUuid(std::string_view name) {
  std::string bytes = Sha256(name).substr(0, 16);
  bytes.resize(16);
  // Version 8 (custom) in the high nibble of byte 6, variant 10 in the top
  // bits of byte 8, as RFC 9562 section 5.8 describes for hash-based ids.
  bytes[6] = static_cast<char>((bytes[6] & 0x0f) | 0x80);
  bytes[8] = static_cast<char>((bytes[8] & 0x3f) | 0x80);
  std::string hex = absl::BytesToHexString(bytes);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-",
                      hex.substr(12, 4), "-", hex.substr(16, 4), "-",
                      hex.substr(20, 12));
}

}  // namespace utpost::adapters
