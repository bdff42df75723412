// Receipts: one signed statement per state change of a letter.
#ifndef UTPOST_GATEWAY_RECEIPTS_RECEIPT_SIGNER_H_
#define UTPOST_GATEWAY_RECEIPTS_RECEIPT_SIGNER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::receipts {

// One document of the letter as the receipt names it: by digest, never by
// content, so receipts still verify after the content is purged.
struct DocumentDigest {
  std::string file_name;
  std::string sha256_hex;
  int64_t size_bytes = 0;
};

// The evidence type a receipt states, after the evidence set of ETSI EN
// 319 522-2 (registered electronic delivery). Fixed mapping from the state
// the receipt records:
//   RECEIVED     SubmissionAcceptance
//   QUEUED       RelayAcceptance          (accepted into the relay queue)
//   ROUTED       RelayAcceptance          (channel chosen)
//   SENT_DIGITAL RelayToREMS              (handed to the mailbox provider)
//   DELIVERED    ContentConsignment       (in the recipient's mailbox)
//   READ         ContentHandover          (opened by the recipient)
//   SENT_PRINT   RelayToNonREMSystem      (handed to the print provider)
//   PRINTED      ReceivedFromNonREMSystem (the print provider posted it)
//   FAILED       ContentConsignmentFailure
//   CANCELLED    utpost:WithdrawnBySender (no ETSI type for a withdrawal)
//   PARKED       utpost:Parked            (retries exhausted; no ETSI type)
// SubmissionRejection is never stored: a refused submission stores nothing
// and the caller gets the error at once. Names with the "utpost:" prefix are
// ours, for steps the ETSI set has no type for.
std::string EvidenceTypeOf(::utpost::v1::Letter::State state);

// What one receipt states.
struct ReceiptContent {
  std::string letter_id;
  std::string tenant;
  int64_t sequence = 0;  // Within the letter, from 1.
  ::utpost::v1::Letter::State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;
  std::string reason;
  int64_t time_ms = 0;
  std::string previous_sha256_hex;  // "" for the first receipt.
  // Who the letter was handed to (organisation number or name), and that
  // provider's own receipt verbatim where it signs one.
  std::string provider;
  std::string provider_receipt;
  // The letter's documents, in order.
  std::vector<DocumentDigest> documents;
};

// What one signed tree head of the receipt log states.
struct TreeHeadContent {
  int64_t tree_size = 0;
  std::string root_hash;  // Raw 32 bytes.
  int64_t time_ms = 0;
};

// A certificate that signs (or will sign) receipts, for expiry reports.
struct SigningCertificateInfo {
  std::string subject;
  int64_t not_before_ms = 0;  // Of the certificate.
  int64_t not_after_ms = 0;   // Of the certificate.
  // From when this key signs (configuration); 0 = from the start.
  int64_t signs_from_ms = 0;
  bool active = false;  // Signs now.
};

// Turns receipt content into a signed, self-contained receipt. The store
// calls it inside the transaction that changes the state, so the chain of
// hashes has no gaps. Thread-safe.
class ReceiptSigner {
 public:
  virtual ~ReceiptSigner() = default;
  // Returns an RFC 7515 compact JWS.
  virtual absl::StatusOr<std::string> Sign(const ReceiptContent& c) = 0;
  // Signs a tree head of the receipt log, with the key that signs receipts
  // now. Returns an RFC 7515 compact JWS.
  virtual absl::StatusOr<std::string> SignTreeHead(const TreeHeadContent& h) {
    return absl::UnimplementedError("this signer does not sign tree heads");
  }
  // Signs another statement of the log (an export's header, a letter's
  // receipt count, an export's trailer) with the key that signs receipts
  // now: a compact JWS with header {"alg":"ES256","typ":`typ`,"x5c":[...]}
  // and `payload_json` as its payload, verbatim.
  virtual absl::StatusOr<std::string> SignStatement(
      const std::string& typ, const std::string& payload_json) {
    return absl::UnimplementedError("this signer does not sign statements");
  }
  // Every configured signing certificate (leaf of each chain).
  virtual std::vector<SigningCertificateInfo> SigningCertificates() const {
    return {};
  }
};

}  // namespace utpost::receipts

#endif  // UTPOST_GATEWAY_RECEIPTS_RECEIPT_SIGNER_H_
