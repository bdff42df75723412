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
//    "channel":"","time":"2026-11-23T12:00:00.123Z","reason":"","prev":"",
//    "evidence":"SubmissionAcceptance","provider":"",
//    "documents":[{"file_name":"a.pdf","sha256":"..","size":123}],
//    "provider_receipt":""}
// "state" is the enum name of utpost.v1.Letter.State, "time" is RFC 3339 UTC
// with milliseconds, "prev" is the lowercase hex SHA-256 of the previous
// receipt's compact JWS ("" for the first), "evidence" the ETSI EN 319 522
// evidence type (see EvidenceTypeOf), "provider" who the letter was handed
// to, "provider_receipt" the provider's own receipt verbatim ("" if none).
//
// Signed tree heads of the receipt log use the same key and header with
// "typ":"utpost-tree-head+jws" and the payload
//   {"log":"utpost-receipts","tree_size":N,"root_hash":"<hex>",
//    "time":"2026-11-23T12:00:00.123Z"}
// where root_hash is the lowercase hex RFC 9162 root of the first N leaves.
//
// Signature: ECDSA P-256 over SHA-256 of "<header>.<payload>" (both
// base64url), as the 64-byte r||s concatenation (RFC 7518 section 3.4),
// base64url without padding.
#ifndef UTPOST_GATEWAY_RECEIPTS_JWS_RECEIPT_SIGNER_H_
#define UTPOST_GATEWAY_RECEIPTS_JWS_RECEIPT_SIGNER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "gateway/receipts/receipt_signer.h"

namespace utpost::receipts {

struct JwsSignerOptions {
  // PEM private key, EC P-256 (PKCS#8 or SEC1). Required.
  std::string key_file;
  // PEM certificates: the leaf for `key_file` first, then any intermediates
  // (the root may be left out). Required.
  std::string cert_chain_file;
  // From when this key signs, in milliseconds since the epoch (rotation);
  // 0 = from the start. Used by NewRotatingReceiptSigner.
  int64_t not_before_ms = 0;
};

// Loads the key and chain. INVALID_ARGUMENT naming the file when a file
// cannot be read or parsed, when the key is not EC P-256, or when it does not
// match the leaf certificate. The returned signer is thread-safe.
absl::StatusOr<std::unique_ptr<ReceiptSigner>> NewJwsReceiptSigner(
    const JwsSignerOptions& options);

// Several keys over time: at each signature the newest key whose
// `not_before_ms` has passed signs (by `clock`, not owned, RealClock() if
// null). Receipts signed earlier keep their own `x5c`, so they still verify
// after a rotation. INVALID_ARGUMENT as NewJwsReceiptSigner, naming the
// key's position, and when `keys` is empty.
absl::StatusOr<std::unique_ptr<ReceiptSigner>> NewRotatingReceiptSigner(
    std::vector<JwsSignerOptions> keys, Clock* clock = nullptr);

// Builds the payload JSON of `c` exactly as the signer signs it. Exposed for
// tests and tools that compare a receipt with the store's columns.
std::string ReceiptPayloadJson(const ReceiptContent& c);

}  // namespace utpost::receipts

#endif  // UTPOST_GATEWAY_RECEIPTS_JWS_RECEIPT_SIGNER_H_

namespace utpost::receipts {
// The payload JSON of a tree head, exactly as signed.
std::string TreeHeadPayloadJson(const TreeHeadContent& h);
}  // namespace utpost::receipts
