// ES256 receipt signer: RFC 7515 compact JWS with the signing certificate
// chain in the protected header, so that any JOSE library or the openssl
// command line can verify a receipt without Utpost.
//
// Protected header (compact JSON, keys in this order):
//   {"alg":"ES256","typ":"utpost-receipt+jws","x5c":["<base64 DER>",...]}
// with the certificates of the chain file, leaf first, in standard base64
// (RFC 7515 section 4.1.6).
//
// Payload (compact JSON, keys in this order):
//   {"letter_id":"..","tenant":"..","seq":1,"state":"RECEIVED",
//    "channel":"","time":"2026-11-23T12:00:00.123Z","reason":"","prev":""}
// "state" is the enum name of utpost.v1.Letter.State, "time" is RFC 3339 UTC
// with milliseconds, "prev" is the lowercase hex SHA-256 of the previous
// receipt's compact JWS ("" for the first).
//
// Signature: ECDSA P-256 over SHA-256 of "<header>.<payload>" (both
// base64url), as the 64-byte r||s concatenation (RFC 7518 section 3.4),
// base64url without padding.
#ifndef UTPOST_GATEWAY_RECEIPTS_JWS_RECEIPT_SIGNER_H_
#define UTPOST_GATEWAY_RECEIPTS_JWS_RECEIPT_SIGNER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/receipts/receipt_signer.h"

namespace utpost::receipts {

struct JwsSignerOptions {
  // PEM private key, EC P-256 (PKCS#8 or SEC1). Required.
  std::string key_file;
  // PEM certificates: the leaf for `key_file` first, then any intermediates
  // (the root may be left out). Required.
  std::string cert_chain_file;
};

// Loads the key and chain. INVALID_ARGUMENT naming the file when a file
// cannot be read or parsed, when the key is not EC P-256, or when it does not
// match the leaf certificate. The returned signer is thread-safe.
absl::StatusOr<std::unique_ptr<ReceiptSigner>> NewJwsReceiptSigner(
    const JwsSignerOptions& options);

// Builds the payload JSON of `c` exactly as the signer signs it. Exposed for
// tests and tools that compare a receipt with the store's columns.
std::string ReceiptPayloadJson(const ReceiptContent& c);

}  // namespace utpost::receipts

#endif  // UTPOST_GATEWAY_RECEIPTS_JWS_RECEIPT_SIGNER_H_
