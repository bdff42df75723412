// The simulated Digipost's check of a request's signature headers
// (PROTOCOLS.md). Written apart from the client's signer, on purpose, so
// that a client that builds the canonical string wrongly fails against it.
#ifndef UTPOST_SIM_SIGNATURE_CHECK_H_
#define UTPOST_SIM_SIGNATURE_CHECK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct evp_pkey_st;

namespace utpost::sim {

// What the check reads from one request. Absent headers are nullopt.
struct SignedRequest {
  std::string_view method;
  // The request target as sent: path, then '?' and query if any.
  std::string_view target;
  std::string_view body;
  std::optional<std::string> date;
  std::optional<std::string> user_id;
  std::optional<std::string> content_sha256;
  std::optional<std::string> content_md5;
  std::optional<std::string> signature;
};

// Parses "Sun, 06 Nov 1994 08:49:37 GMT" into Unix milliseconds.
std::optional<int64_t> ParseHttpDate(std::string_view date);

// Thread-safe.
class SignatureChecker final {
 public:
  // Takes the public key from the certificate (PEM) at `cert_file`.
  static absl::StatusOr<std::unique_ptr<SignatureChecker>> FromCertFile(
      const std::string& cert_file);

  SignatureChecker(const SignatureChecker&) = delete;
  SignatureChecker& operator=(const SignatureChecker&) = delete;
  ~SignatureChecker();

  // OK when the request carries a user id, a Date within `max_skew_ms` of
  // `now_millis`, a body digest that matches (or no digest and no body),
  // and a valid signature over its canonical string. Otherwise
  // PERMISSION_DENIED saying which check failed.
  absl::Status Check(const SignedRequest& request, int64_t now_millis,
                     int64_t max_skew_ms) const;

 private:
  explicit SignatureChecker(evp_pkey_st* key) : key_(key) {}
  evp_pkey_st* const key_;  // Owned.
};

}  // namespace utpost::sim

#endif  // UTPOST_SIM_SIGNATURE_CHECK_H_
