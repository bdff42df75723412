// The simulated Altinn 3 Correspondence service, Altinn Events, Altinn's
// register and the Enhetsregisteret-shaped business registry, strict as the
// real services (docs/protocols.md names the source of each rule).
//
//   GET  /authentication/api/v1/exchange/maskinporten
//        Bearer <Maskinporten token> -> 200 text/plain Altinn token (same
//        scopes and expiry); 401 otherwise.
//   POST /correspondence/api/v1/correspondence/upload
//        Altinn token with scopes kAltinnScope. multipart/form-data (else
//        415), bound as ASP.NET binds InitializeCorrespondencesExt: form
//        fields by name, case-insensitive (correspondence.resourceId,
//        correspondence.sender, correspondence.sendersReference,
//        correspondence.content.{language, messageTitle, messageSummary,
//        messageBody}, correspondence.content.attachments[i].{fileName,
//        displayName, sendersReference, isEncrypted, dataLocationType},
//        correspondence.notification.{...}, correspondence.isConfidential,
//        recipients[i], idempotentKey); files as "attachments". A JSON part
//        binds nothing. Missing required fields, lengths over the binding's
//        maximum, a malformed recipient (RecipientListAttribute) or
//        idempotentKey: 400 ValidationProblemDetails {"errors": {...}}.
//        Then the service's checks, ProblemDetails with "errorCode": 1023
//        language not nb/nn/en, 1020/1037 title empty/too long, 1042
//        summary too long, 1021/1022 body, 1005 files and attachment
//        metadata do not match (count and file names), 404 1029 for a
//        recipient that is not an Altinn party (altinn_party: false,
//        deleted or unknown), 409 1034 for a known idempotentKey (no id in
//        it). Else 200 {"correspondences": [{"correspondenceId", "status":
//        "Published", "recipient"}], "attachmentIds": [...]}, published at
//        once.
//   GET  /correspondence/api/v1/correspondence/{id}
//        Altinn token (kAltinnScope). 200 {"correspondenceId", "status",
//        "statusText", "sendersReference", "idempotentKey", "recipient",
//        "resourceId"}.
//   GET  /events/api/v1/events?resource=urn:altinn:resource:<id>&after=<id>
//        &size=<n>  Altinn token with altinn:events.subscribe. `resource`
//        and `after` required (400 "The 'after' parameter must be
//        defined."); after=0 from the start. CloudEvents 1.0, oldest first:
//        no.altinn.correspondence.correspondenceinitialized,
//        ...correspondencepublished, ...correspondencereceiverread,
//        ...correspondencepublishfailed; "resourceinstance" is the
//        correspondence id. An organisation with read_after_seconds reads
//        that long after publication.
//   GET  /register/api/v1/organizations/{orgnr}
//        PlatformAccessToken header (a JWT-shaped value; else 403). 200
//        {"orgNumber", "name", "unitStatus"} for an Altinn party; 404
//        otherwise.
//   GET  /enhetsregisteret/api/enheter/{orgnr}
//        No token (an open register). 200 {"organisasjonsnummer", "navn",
//        "postadresse" {"adresse": [...], "postnummer", "poststed",
//        "landkode"}, "forretningsadresse" {...}}; 410 {"organisasjonsnummer",
//        "slettedato"} for a deleted one; 404 for an unknown number.
// Test control:
//   POST /sim/v1/altinn/read  {"idempotent_key": "..."}: the recipient reads
//        it now. 204; 404 for an unknown key.
//   POST /sim/v1/altinn/fail  {"idempotent_key": "...", "reason": "..."}:
//        publication failed. 204; 404 for an unknown key.
// Faults: "altinn" (all Altinn endpoints), "enhetsregisteret".
#ifndef UTPOST_SIM_ALTINN_H_
#define UTPOST_SIM_ALTINN_H_

#include <httplib.h>

#include <memory>
#include <vector>

#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "sim/maskinporten.h"
#include "sim/organisations.h"

namespace utpost::sim {

// The scopes the correspondence endpoints require of an Altinn token from
// Maskinporten (SenderScopePolicy), and the Events API's scope.
inline constexpr char kAltinnScope[] =
    "altinn:serviceowner altinn:correspondence.write";
inline constexpr char kAltinnEventsScope[] = "altinn:events.subscribe";
// The register's platform access token header (Altinn.Common.AccessToken).
inline constexpr char kPlatformAccessTokenHeader[] = "PlatformAccessToken";

// Thread-safe.
class AltinnSim {
 public:
  virtual ~AltinnSim() = default;
  virtual void Register(httplib::Server* server, FaultHook fault) = 0;
  // {"<idempotentKey>": {"accepted": 1, "duplicates": N}}.
  virtual nlohmann::json Counts() = 0;
  // Forgets every correspondence and event.
  virtual void Reset() = 0;
};

// `tokens` is not owned and must outlive the result; null refuses every
// token. `clock` not owned; null: the real clock.
std::unique_ptr<AltinnSim> NewAltinnSim(
    std::vector<SimOrganisation> organisations, TokenIssuer* tokens,
    const Clock* clock);

}  // namespace utpost::sim

#endif  // UTPOST_SIM_ALTINN_H_
