// The certificate files a configuration names, and when each expires, for
// the operators' status page. One list, so that a setting added later (such
// as rotated receipt-log keys) shows up by adding it here.
#ifndef UTPOST_GATEWAY_CONFIG_CERTIFICATES_H_
#define UTPOST_GATEWAY_CONFIG_CERTIFICATES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::config {

struct CertificateFile {
  std::string setting;  // "server.cert_file"
  std::string path;
};

// Every certificate file of `config` that is set: server certificate,
// client CA, receipt-signing chains, provider CA, provider credentials.
std::vector<CertificateFile> ConfiguredCertificateFiles(
    const v1::Config& config);

struct CertificateExpiry {
  std::string subject;       // One line, OpenSSL's RFC 2253 form.
  int64_t not_after_ms = 0;  // Unix epoch milliseconds.
};

// Reads every PEM certificate in `path` and returns the one that expires
// first (for a chain or a bundle, the first to matter). NOT_FOUND when the
// file cannot be read; INVALID_ARGUMENT when it holds no certificate.
absl::StatusOr<CertificateExpiry> EarliestExpiry(const std::string& path);

}  // namespace utpost::config

#endif  // UTPOST_GATEWAY_CONFIG_CERTIFICATES_H_
