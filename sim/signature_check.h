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
#include <utility>

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

// The headers with which the simulated Digipost signs a response, as the
// Java client's ResponseSignatureInterceptor, ResponseDateInterceptor and
// ResponseContentSHA256Interceptor check them.
struct ResponseSignature {
  std::string date;            // RFC 1123, GMT.
  std::string content_sha256;  // Base64 SHA-256 of the body; "" without.
  std::string signature;       // X-Digipost-Signature.
};

// Signs Digipost responses with the provider's key. Thread-safe.
class ResponseSigner final {
 public:
  // Loads the RSA private key (PEM) at `key_file` and the certificate (PEM)
  // at `cert_file` that the entry point publishes. INVALID_ARGUMENT naming
  // the file otherwise.
  static absl::StatusOr<std::unique_ptr<ResponseSigner>> FromFiles(
      const std::string& cert_file, const std::string& key_file);

  ResponseSigner(const ResponseSigner&) = delete;
  ResponseSigner& operator=(const ResponseSigner&) = delete;
  ~ResponseSigner();

  // The canonical string of a response (written apart from the adapter's):
  //   status "\n" lowercase(path) "\n" then "date: <date>\n" and, with a
  //   body, "x-content-sha256: <digest>\n" (sorted by name; no query line).
  static std::string Canonical(int status, std::string_view path,
                               const ResponseSignature& headers);

  // The headers for a response with `status` and `body` to a request for
  // `path` (no query), dated `now_millis`.
  ResponseSignature Sign(int status, std::string_view path,
                         std::string_view body, int64_t now_millis) const;

  // The certificate as PEM text.
  const std::string& certificate_pem() const { return certificate_pem_; }

 private:
  ResponseSigner(evp_pkey_st* key, std::string certificate_pem)
      : key_(key), certificate_pem_(std::move(certificate_pem)) {}
  evp_pkey_st* const key_;  // Owned.
  const std::string certificate_pem_;
};

}  // namespace utpost::sim

#endif  // UTPOST_SIM_SIGNATURE_CHECK_H_
