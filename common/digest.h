// Message digests used across components (document and receipt hashes).
#ifndef UTPOST_COMMON_DIGEST_H_
#define UTPOST_COMMON_DIGEST_H_

#include <string>
#include <string_view>

namespace utpost {

// Lowercase hex SHA-256 of `data` (64 characters). Thread-safe.
std::string Sha256Hex(std::string_view data);

}  // namespace utpost

#endif  // UTPOST_COMMON_DIGEST_H_
