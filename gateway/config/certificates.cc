#include "gateway/config/certificates.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>

#include "absl/strings/str_cat.h"

namespace utpost::config {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::string SubjectOf(X509* cert) {
  std::unique_ptr<BIO, BioFree> out(BIO_new(BIO_s_mem()));
  if (!out) return "";
  X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0,
                     XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : "";
}

}  // namespace

std::vector<CertificateFile> ConfiguredCertificateFiles(
    const v1::Config& config) {
  std::vector<CertificateFile> out;
  auto add = [&out](const std::string& setting, const std::string& path) {
    if (!path.empty()) out.push_back({setting, path});
  };
  add("server.cert_file", config.server().cert_file());
  add("server.client_ca_file", config.server().client_ca_file());
  add("receipts.cert_chain_file", config.receipts().cert_chain_file());
  for (int i = 0; i < config.receipts().keys_size(); ++i) {
    add(absl::StrCat("receipts.keys[", i, "].cert_chain_file"),
        config.receipts().keys(i).cert_chain_file());
  }
  add("providers.ca_file", config.providers().ca_file());
  add("providers.maskinporten.cert_chain_file",
      config.providers().maskinporten().cert_chain_file());
  add("providers.dpi.certificate_file",
      config.providers().dpi().certificate_file());
  add("providers.dpi.provider_certificate_file",
      config.providers().dpi().provider_certificate_file());
  add("providers.dpi.certificate_root_file",
      config.providers().dpi().certificate_root_file());
  add("providers.dpi.print_certificate_file",
      config.providers().dpi().print_certificate_file());
  return out;
}

absl::StatusOr<CertificateExpiry> EarliestExpiry(const std::string& path) {
  std::unique_ptr<BIO, BioFree> in(BIO_new_file(path.c_str(), "r"));
  if (!in) {
    ERR_clear_error();
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  bool found = false;
  CertificateExpiry earliest;
  while (true) {
    std::unique_ptr<X509, X509Free> cert(
        PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    struct tm tm = {};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) continue;
    const int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
    if (!found || ms < earliest.not_after_ms) {
      earliest.not_after_ms = ms;
      earliest.subject = SubjectOf(cert.get());
      found = true;
    }
  }
  // The loop ends on "no more PEM", which OpenSSL queues as an error.
  ERR_clear_error();
  if (!found) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no PEM certificate"));
  }
  return earliest;
}

}  // namespace utpost::config
