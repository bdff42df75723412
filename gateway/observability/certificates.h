// Expiry of configured certificates, for the
// utpost_certificate_expiry_timestamp_seconds gauge.
#ifndef UTPOST_GATEWAY_OBSERVABILITY_CERTIFICATES_H_
#define UTPOST_GATEWAY_OBSERVABILITY_CERTIFICATES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace utpost::observability {

// The earliest notAfter (Unix seconds) of the PEM certificates in `path`.
// NOT_FOUND when the file cannot be read, INVALID_ARGUMENT when it holds no
// certificate.
absl::StatusOr<int64_t> EarliestExpiry(const std::string& path);

}  // namespace utpost::observability

#endif  // UTPOST_GATEWAY_OBSERVABILITY_CERTIFICATES_H_
