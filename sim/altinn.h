// The simulated Altinn 3 Correspondence-shaped inbox service and the
// Enhetsregisteret-shaped business registry (PROTOCOLS.md).
//
//   GET  /authentication/api/v1/exchange/maskinporten
//        Bearer <Maskinporten token> -> 200 text/plain Altinn token (same
//        scopes and expiry); 401 otherwise.
//   POST /correspondence/api/v1/correspondence/upload
//        Altinn token with scope altinn:correspondence.write. Multipart
//        form: part "correspondence" (JSON: resourceId, sender
//        "urn:altinn:organization:identifier-no:<orgnr>" or "0192:<orgnr>",
//        sendersReference, recipients ["urn:altinn:organization:
//        identifier-no:<orgnr>"], content {language nb|nn|en, messageTitle,
//        messageSummary, messageBody}, requestedPublishTime, notification,
//        isConfidential, idempotentKey (a UUID)) and one part "attachments"
//        per document (with a filename). 400 problem JSON for a malformed
//        request or a recipient without an inbox (unknown or deleted
//        included); a repeated idempotentKey is 409 problem JSON carrying
//        the existing "correspondenceId" (counted as a duplicate); else 200
//        {"correspondences": [{"correspondenceId", "status": "Published",
//        "recipient"}], "attachmentIds": [...]}, published at once.
//   GET  /correspondence/api/v1/correspondence/{id}
//        Altinn token. 200 {"correspondenceId", "status", "statusText",
//        "sendersReference", "idempotentKey", "recipient", "resourceId"}.
//   GET  /events/api/v1/events?resource=urn:altinn:resource:<id>&after=<id>
//        &size=<n>  Altinn token. CloudEvents 1.0, oldest first, after the
//        event `after` (absent: from the start): types
//        no.altinn.correspondence.correspondencepublished,
//        ...correspondencereceiverread, ...correspondencepublishfailed;
//        "resourceinstance" is the correspondence id. An organisation with
//        read_after_seconds reads that long after publication.
//   GET  /register/api/v1/organizations/{orgnr}
//        Altinn token. 200 {"orgNumber", "name"} when the organisation can
//        receive correspondence (has an inbox); 404 otherwise.
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

// The scope the Altinn endpoints require.
inline constexpr char kAltinnScope[] = "altinn:correspondence.write";

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
