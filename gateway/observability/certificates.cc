#include "gateway/observability/certificates.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <limits>

#include "absl/strings/str_cat.h"

namespace utpost::observability {

absl::StatusOr<int64_t> EarliestExpiry(const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  int64_t earliest = std::numeric_limits<int64_t>::max();
  bool any = false;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
      earliest = std::min<int64_t>(earliest, timegm(&tm));
      any = true;
    }
    X509_free(cert);
  }
  BIO_free(bio);
  ERR_clear_error();  // The end of the file reads as an error.
  if (!any) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no PEM certificate"));
  }
  return earliest;
}

}  // namespace utpost::observability
