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

// Reads the organisation number from the leaf certificate's subject:
// organizationIdentifier "NTRNO-<9 digits>" (eIDAS form) or serialNumber
// "<9 digits>" (older Norwegian enterprise certificates).
absl::StatusOr<std::string> OrganisationNumberFromPem(const std::string& pem);

// UNAUTHENTICATED without a verified client certificate; PERMISSION_DENIED
// for a certificate that names neither a configured tenant nor an operator.
absl::StatusOr<Caller> IdentifyCaller(const grpc::AuthContext& auth,
                                      const AccessPolicy& policy);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_CALLER_H_
