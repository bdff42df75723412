#include "gateway/api/caller.h"

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"

namespace utpost::api {
namespace {

std::string SubjectEntry(X509_NAME* name, int nid) {
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), len);
  OPENSSL_free(utf8);
  return out;
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

absl::StatusOr<std::string> OrganisationNumberFromPem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return absl::UnauthenticatedError("unreadable client certificate");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  std::string org_id = SubjectEntry(subject, NID_organizationIdentifier);
  if (absl::StartsWith(org_id, "NTRNO-") && IsNineDigits(org_id.substr(6))) {
    return org_id.substr(6);
  }
  std::string serial = SubjectEntry(subject, NID_serialNumber);
  if (IsNineDigits(serial)) return serial;
  return absl::NotFoundError("no organisation number in the certificate");
}

namespace {

// Decoding a certificate costs OpenSSL 3 tens of microseconds on every
// call; a connection's calls all carry the same one, so the answer is kept.
absl::StatusOr<std::string> CachedOrganisationNumber(const std::string& pem) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache ABSL_GUARDED_BY(mu) =
      new absl::flat_hash_map<std::string, absl::StatusOr<std::string>>();
  {
    absl::MutexLock lock(&mu);
    if (auto it = cache->find(pem); it != cache->end()) return it->second;
  }
  auto org = OrganisationNumberFromPem(pem);
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
  auto org = CachedOrganisationNumber(pem);
  // A certificate naming an organisation is that organisation's, whatever
  // its common name: a tenant cannot become an operator by choosing one.
  if (org.ok()) {
    if (policy.tenants.count(*org) == 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("organisation ", *org, " is not a tenant here"));
    }
    caller.kind = Caller::Kind::kTenant;
    caller.tenant = *org;
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
