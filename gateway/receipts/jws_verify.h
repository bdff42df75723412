// Verification of receipt JWSs as an outside party does it: from the JWS and
// a trusted CA only, with no access to the store. Used by Utpost's tests and
// by `utpostctl` for offline audits.
#ifndef UTPOST_GATEWAY_RECEIPTS_JWS_VERIFY_H_
#define UTPOST_GATEWAY_RECEIPTS_JWS_VERIFY_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace utpost::receipts {

// Verifies receipts against one trust anchor. Checks, in order:
//  - compact form: three canonical base64url parts without padding;
//  - protected header: "alg" is "ES256", no "crit", "x5c" is a non-empty
//    array of base64 DER certificates, leaf first;
//  - the ES256 signature (64-byte r||s) under the leaf's P-256 key;
//  - the payload is a JSON object;
//  - the x5c chain leads to a certificate of the CA file, with validity
//    checked at the payload's "time" (RFC 3339) when it has one, so an old
//    receipt still verifies after its certificate expired, and at the
//    present time otherwise.
// Errors: INVALID_ARGUMENT for a malformed JWS; UNAUTHENTICATED when the
// signature does not verify or the chain is not trusted.
// Thread-safe; one verifier may check many receipts concurrently.
class ReceiptJwsVerifier {
 public:
  virtual ~ReceiptJwsVerifier() = default;
  // Returns the verified payload.
  virtual absl::StatusOr<nlohmann::json> Verify(std::string_view jws) const = 0;
};

// Loads the PEM CA certificates of `ca_pem_file` (one or more).
// INVALID_ARGUMENT naming the file when it cannot be read.
absl::StatusOr<std::unique_ptr<ReceiptJwsVerifier>> NewReceiptJwsVerifier(
    const std::string& ca_pem_file);

// One-shot form of the above: loads `ca_pem_file` and verifies `jws`.
absl::StatusOr<nlohmann::json> VerifyReceiptJws(std::string_view jws,
                                                const std::string& ca_pem_file);

}  // namespace utpost::receipts

#endif  // UTPOST_GATEWAY_RECEIPTS_JWS_VERIFY_H_
