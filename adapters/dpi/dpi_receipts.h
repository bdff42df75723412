// DPI receipts in the published shape (felleslosninger/docs:
// resources/begrep/sikkerDigitalPost/nyinf/api/openapi_spec.yaml for the
// queue, schemas/dpi/innbyggerpost_dpi_<type>_1_0.schema.json for the
// receipts; docs/protocols.md says which rule comes from where).
//
// The queue: GET /messages/in?kanal=&avsenderidentifikator=&page_size= ->
// 200 [{"forretningsmelding": <JWS>, "downloadurl"?}] or 204 (none unread);
// POST /messages/in/{id}/read marks one read, {id} being the receipt's own
// documentIdentification.instanceIdentifier. The entries carry no id of
// their own: it is read from the signed payload.
//
// A receipt (the JWS payload, after its signature is verified):
//
//   {"standardBusinessDocument": {
//      "standardBusinessDocumentHeader": {
//        "sender": [{"identifier": {"value": "0192:<provider orgnr>"}}],
//        "documentIdentification": {"type": <receipt type>,
//                                   "instanceIdentifier": <receipt id>, ...},
//        "businessScope": {"scope": [{"type": "ConversationId",
//                          "instanceIdentifier": <message id>, ...}]}, ...},
//      "<receipt type>": {"avsender", "mottaker", "tidspunkt", ...}}}
//
// leveringskvittering -> kDelivered, aapningskvittering -> kRead,
// varslingfeiletkvittering -> kNotificationFailed (reason "<varslingskanal>:
// <beskrivelse>"), mottakskvittering -> kPrintReceived, returpostkvittering
// -> kReturned, feil -> kFailed (reason "KLIENT: <detaljer>" or "SERVER:
// ...").
#ifndef UTPOST_ADAPTERS_DPI_DPI_RECEIPTS_H_
#define UTPOST_ADAPTERS_DPI_DPI_RECEIPTS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/channel.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {

// The event a verified receipt payload states. event_id = the receipt's
// instanceIdentifier, message_id = its ConversationId, provider = the SBDH
// sender's organisation number without "0192:", time_ms = the receipt's
// "tidspunkt". Evidence is left empty (the caller holds the JWS).
// INVALID_ARGUMENT, with a short message that quotes no more than a few
// characters of the input, when the payload is not a receipt of the
// published shape: no standardBusinessDocument wrapper, an unknown type or
// a body under another key than the type's, an instance or conversation id
// that is not a UUID, a sender that is not an organisation, a tidspunkt
// that is not RFC 3339, a feiltype other than KLIENT|SERVER, a
// varslingskanal other than epost|sms. Reasons are at most 300 bytes, with
// person numbers masked. Never throws.
absl::StatusOr<ProviderEvent> ParseDpiReceipt(const nlohmann::json& payload);

// The query of the listing, "?page_size=N" with "&kanal=" and
// "&avsenderidentifikator=" when those are set (each percent-encoded).
std::string DpiReceiptListQuery(absl::string_view kanal,
                                absl::string_view avsenderidentifikator,
                                int page_size);

// OK for "" (no kanal) and for a kanal the OpenAPI allows: 1 to 28 of
// a-z, A-Z, 0-9, '_' and '-'. INVALID_ARGUMENT naming the rule otherwise.
absl::Status CheckDpiKanal(absl::string_view kanal);

// True for a UUID in the 8-4-4-4-12 hex form.
bool IsDpiUuid(absl::string_view s);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_DPI_DPI_RECEIPTS_H_
