#include "gateway/api/caller.h"

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"

namespace utpost::api {
namespace {

// Every entry of `nid` in the subject, as UTF-8.
std::vector<std::string> SubjectEntries(X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int idx = X509_NAME_get_index_by_NID(name, nid, -1); idx >= 0;
       idx = X509_NAME_get_index_by_NID(name, nid, idx)) {
    ASN1_STRING* data =
        X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) {
      out.emplace_back();  // Counted, and matches nothing.
      continue;
    }
    out.emplace_back(reinterpret_cast<char*>(utf8), len);
    OPENSSL_free(utf8);
  }
  return out;
}

// True when the certificate has an extended key usage extension listing
// clientAuth. X509_get_extended_key_usage() answers "anything" for a
// certificate without the extension, so its presence is checked first.
bool HasClientAuth(X509* cert) {
  if (X509_get_ext_by_NID(cert, NID_ext_key_usage, -1) < 0) return false;
  return (X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT) != 0;
}

bool IsNineDigits(const std::string& s) {
  if (s.size() != 9) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string FirstProperty(const grpc::AuthContext& auth, const char* name) {
  auto values = auth.FindPropertyValues(name);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

}  // namespace

absl::StatusOr<ClientCertificate> ReadClientCertificate(
    const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return absl::UnauthenticatedError("unreadable client certificate");
  ClientCertificate out;
  out.client_auth = HasClientAuth(cert.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const std::vector<std::string> org_ids =
      SubjectEntries(subject, NID_organizationIdentifier);
  if (org_ids.size() > 1) {
    return absl::PermissionDeniedError(
        absl::StrCat("the certificate names ", org_ids.size(),
                     " organisation identifiers; exactly one is allowed"));
  }
  std::set<std::string> numbers;
  for (const std::string& id : org_ids) {
    if (absl::StartsWith(id, "NTRNO-") && IsNineDigits(id.substr(6))) {
      numbers.insert(id.substr(6));
    }
  }
  for (const std::string& serial : SubjectEntries(subject, NID_serialNumber)) {
    if (IsNineDigits(serial)) numbers.insert(serial);
  }
  if (numbers.size() > 1) {
    return absl::PermissionDeniedError(
        absl::StrCat("the certificate names ", numbers.size(),
                     " organisation numbers; exactly one is allowed"));
  }
  if (!numbers.empty()) out.organisation = *numbers.begin();
  return out;
}

absl::StatusOr<std::string> OrganisationNumberFromPem(const std::string& pem) {
  absl::StatusOr<ClientCertificate> cert = ReadClientCertificate(pem);
  if (!cert.ok()) return cert.status();
  if (cert->organisation.empty()) {
    return absl::NotFoundError("no organisation number in the certificate");
  }
  return cert->organisation;
}

namespace {

// Decoding a certificate costs OpenSSL 3 tens of microseconds on every
// call; a connection's calls all carry the same one, so the answer is kept.
absl::StatusOr<ClientCertificate> CachedClientCertificate(
    const std::string& pem) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache ABSL_GUARDED_BY(mu) =
      new absl::flat_hash_map<std::string, absl::StatusOr<ClientCertificate>>();
  {
    absl::MutexLock lock(&mu);
    if (auto it = cache->find(pem); it != cache->end()) return it->second;
  }
  auto org = ReadClientCertificate(pem);
  absl::MutexLock lock(&mu);
  if (cache->size() >= 4096) cache->clear();  // Bounded; refills as needed.
  cache->emplace(pem, org);
  return org;
}

}  // namespace

absl::StatusOr<Caller> IdentifyCaller(const grpc::AuthContext& auth,
                                      const AccessPolicy& policy) {
  if (!auth.IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("a client certificate is required");
  }
  const std::string pem = FirstProperty(auth, GRPC_X509_PEM_CERT_PROPERTY_NAME);
  Caller caller;
  caller.common_name = FirstProperty(auth, GRPC_X509_CN_PROPERTY_NAME);
  absl::StatusOr<ClientCertificate> cert = CachedClientCertificate(pem);
  if (!cert.ok()) return cert.status();
  // A request-signing or receipt certificate from the same CA must not
  // log in as its organisation.
  if (!cert->client_auth) {
    return absl::PermissionDeniedError(
        absl::StrCat("certificate \"", caller.common_name,
                     "\" is not for client authentication (no clientAuth "
                     "extended key usage)"));
  }
  // A certificate naming an organisation is that organisation's, whatever
  // its common name: a tenant cannot become an operator by choosing one.
  if (!cert->organisation.empty()) {
    if (policy.tenants.count(cert->organisation) == 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          "organisation ", cert->organisation, " is not a tenant here"));
    }
    caller.kind = Caller::Kind::kTenant;
    caller.tenant = cert->organisation;
    return caller;
  }
  if (policy.operator_common_names.count(caller.common_name) > 0) {
    caller.kind = Caller::Kind::kOperator;
    return caller;
  }
  return absl::PermissionDeniedError(
      absl::StrCat("certificate \"", caller.common_name,
                   "\" names no organisation number and no operator"));
}

}  // namespace utpost::api
