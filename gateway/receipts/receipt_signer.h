// Receipts: one signed statement per state change of a letter.
#ifndef UTPOST_GATEWAY_RECEIPTS_RECEIPT_SIGNER_H_
#define UTPOST_GATEWAY_RECEIPTS_RECEIPT_SIGNER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::receipts {

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
};

// Turns receipt content into a signed, self-contained receipt. The store
// calls it inside the transaction that changes the state, so the chain of
// hashes has no gaps. Thread-safe.
class ReceiptSigner {
 public:
  virtual ~ReceiptSigner() = default;
  // Returns an RFC 7515 compact JWS.
  virtual absl::StatusOr<std::string> Sign(const ReceiptContent& c) = 0;
};

}  // namespace utpost::receipts

#endif  // UTPOST_GATEWAY_RECEIPTS_RECEIPT_SIGNER_H_
