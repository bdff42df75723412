// Who is calling: taken from the verified TLS client certificate, never
// from the request. The TLS layer has already checked the chain to the
// configured client CA; this only reads the subject.
#ifndef UTPOST_GATEWAY_API_CALLER_H_
#define UTPOST_GATEWAY_API_CALLER_H_

#include <set>
#include <string>

#include "absl/status/statusor.h"

namespace grpc {
class AuthContext;
}

namespace utpost::api {

struct Caller {
  enum class Kind { kTenant, kOperator };
  Kind kind = Kind::kTenant;
  // Organisation number of a tenant; empty for an operator.
  std::string tenant;
  // The certificate's common name (for logs).
  std::string common_name;
};

// Which certificates are let in: tenants by organisation number, operators
// by common name. Immutable after start-up.
struct AccessPolicy {
  std::set<std::string> tenants;
  std::set<std::string> operator_common_names;
};

// What a client certificate says about its holder, read strictly.
struct ClientCertificate {
  // The certificate has an extended key usage extension that lists
  // clientAuth. A certificate without one (a request-signing or receipt
  // certificate, say) does not log in, even though OpenSSL would let it
  // through a TLS handshake.
  bool client_auth = false;
  // The organisation number, when the subject names exactly one.
  std::string organisation;
};

// Reads the leaf certificate in `pem`. The organisation number comes from
// the subject: organizationIdentifier "NTRNO-<9 digits>" (eIDAS form) or
// serialNumber "<9 digits>" (older Norwegian enterprise certificates); both
// may be there when they name the same number. UNAUTHENTICATED for an
// unreadable certificate; PERMISSION_DENIED for one whose subject names two
// organisations, or has two organizationIdentifier entries (which one the
// certificate is for is then anybody's guess).
absl::StatusOr<ClientCertificate> ReadClientCertificate(const std::string& pem);

// The organisation number of ReadClientCertificate; NOT_FOUND when the
// subject names none.
absl::StatusOr<std::string> OrganisationNumberFromPem(const std::string& pem);

// UNAUTHENTICATED without a verified client certificate; PERMISSION_DENIED
// for a certificate without the clientAuth extended key usage, one that
// names two organisations, and one that names neither a configured tenant
// nor an operator.
absl::StatusOr<Caller> IdentifyCaller(const grpc::AuthContext& auth,
                                      const AccessPolicy& policy);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_CALLER_H_
