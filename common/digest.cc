#include "common/digest.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"

namespace utpost {

std::string Sha256Hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  // The one-shot SHA256() cannot fail for in-memory input and needs no
  // context allocation.
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(md), sizeof(md)));
}

}  // namespace utpost
