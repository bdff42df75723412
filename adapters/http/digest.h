// Digests the adapters put on the wire (body hashes, document checksums,
// derived identifiers).
#ifndef UTPOST_ADAPTERS_HTTP_DIGEST_H_
#define UTPOST_ADAPTERS_HTTP_DIGEST_H_

#include <string>
#include <string_view>

namespace utpost::adapters {

// SHA-256 of `data`: 32 raw bytes. (Hex: utpost::Sha256Hex in
// common/digest.h.)
std::string Sha256(std::string_view data);

// A name-based UUID (RFC 9562 version 8) from the SHA-256 of `name`:
// the same name always gives the same UUID, e.g.
// "3f2b...-....-8...-[89ab]...-............".
std::string NameBasedUuid(std::string_view name);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_HTTP_DIGEST_H_
