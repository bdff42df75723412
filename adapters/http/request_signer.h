// Digipost-style request signing (PROTOCOLS.md, "Digital mailbox"): every
// request names the sender, carries its time and a digest of its body, and
// is signed with the sender's business certificate key.
#ifndef UTPOST_ADAPTERS_HTTP_REQUEST_SIGNER_H_
#define UTPOST_ADAPTERS_HTTP_REQUEST_SIGNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "adapters/http/http_client.h"
#include "common/clock.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY.

namespace utpost::adapters {

// The string that is signed:
//   METHOD "\n" lowercase(path) "\n"
//   for each of content-md5, date, x-content-sha256, x-digipost-userid
//   present in `headers` (names matched ignoring case), in that (sorted)
//   order: name ": " value "\n"
//   lowercase(query) "\n"   (the line is there even when query is empty)
// `path` has no query; `query` has no leading '?'.
std::string CanonicalRequestString(std::string_view method,
                                   std::string_view path,
                                   const HttpHeaders& headers,
                                   std::string_view query);

// RFC 1123 date in GMT, as HTTP's Date header: "Sun, 06 Nov 1994 08:49:37
// GMT".
std::string FormatHttpDate(int64_t unix_millis);

// Path and query of an absolute URL: "https://h:1/a/b?x=1" -> "/a/b",
// "x=1". A URL without a path gives "/". INVALID_ARGUMENT without "://".
absl::Status SplitUrl(std::string_view url, std::string* path,
                      std::string* query);

// Signs requests for one sender. Thread-safe; Sign() may run on many
// threads at once.
class RequestSigner final {
 public:
  // Loads an unencrypted RSA private key (PEM) from `key_file`.
  // `user_id` is the sender's id at the provider (X-Digipost-UserId).
  // `clock` gives the Date header; not owned, must outlive the signer.
  // INVALID_ARGUMENT naming the file when it cannot be read or is not RSA.
  static absl::StatusOr<std::unique_ptr<RequestSigner>> FromKeyFile(
      const std::string& key_file, std::string user_id,
      const Clock* clock = RealClock());

  RequestSigner(const RequestSigner&) = delete;
  RequestSigner& operator=(const RequestSigner&) = delete;
  ~RequestSigner();

  // Sets X-Digipost-UserId, Date, X-Content-SHA256 (only when the body is
  // not empty; removed otherwise) and X-Digipost-Signature on `request`,
  // replacing earlier values. Call it last, after the body is final.
  absl::Status Sign(HttpRequest* request) const;

 private:
  RequestSigner(evp_pkey_st* key, std::string user_id, const Clock* clock);

  evp_pkey_st* const key_;  // Owned.
  const std::string user_id_;
  const Clock* const clock_;
};

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_HTTP_REQUEST_SIGNER_H_
