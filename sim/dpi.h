// utpost-sim's DPI provider (PROTOCOLS.md, "Digital mailbox via DPI"; the
// client side is adapters/dpi/dpi_channel.h, which this checks without
// sharing its code). It plays e-Boks (922020175): it decrypts the document
// packages with the mailbox key and signs receipts with the provider key.
//
//   POST   /messages/out    multipart/form-data: "forretningsmelding" (JWS)
//                           and "dokumentpakke" (CMS). Checks, in order: the
//                           bearer token (401); the JWS (RS256, x5c chain to
//                           the CA: 400 UGYLDIG_SIGNATUR); the SBD's fields
//                           (400 UGYLDIG_FORRETNINGSMELDING); the recipient
//                           has an e-Boks mailbox and is not reserved (400
//                           UKJENT_MOTTAKER); SHA-256 of the package equals
//                           dokumentpakkefingeravtrykk (400
//                           UGYLDIG_FINGERAVTRYKK); the package decrypts
//                           with the mailbox key and uses RSA-OAEP (400
//                           UDEKRYPTERBAR_DOKUMENTPAKKE); the ASiC-E zip:
//                           "mimetype" first, stored, right type; manifest.xml
//                           names the hoveddokument and every document is
//                           there; META-INF/signatures.xml's signature
//                           verifies with the same certificate as the JWS
//                           and its digests match every file (400
//                           UGYLDIG_DOKUMENTPAKKE). A repeated message id
//                           (documentIdentification.instanceIdentifier) is
//                           409 DUPLIKAT; else 200 {"status": "MOTTATT"} and
//                           receipts are queued (see below).
//                           Errors are application/problem+json: {"title",
//                           "status", "detail", "feiltype": "KLIENT|SERVER",
//                           "kode"}.
//   GET    /messages/in     the unread receipts due, oldest first, as the
//                           OpenAPI (nyinf/api/openapi_spec.yaml) says:
//                           200 [{"forretningsmelding": <JWS>}], or 204
//                           when there are none. Query parameters: only
//                           avsenderidentifikator (at most 100), kanal (1 to
//                           28 of a-z A-Z 0-9 _ -; case-insensitive; only
//                           receipts of messages sent with that kanal),
//                           page_size (1 to 1000, default 100), page (from
//                           0); anything else is 400. avsenderidentifikator
//                           is checked, not used to filter.
//   POST   /messages/in/{id}/read   marks the receipt (every copy) read:
//                           200; 404 for no receipt of that id; 400 when
//                           {id} is no UUID. Read receipts stay stored but
//                           are no longer listed.
//                           The receipt queue answers 401 without a valid
//                           token and 403 for one without the scope
//                           digitalpostinnbygger:send; refusals are
//                           problem+json {"title", "status", "detail"}.
//
// The signatures.xml check is deliberately minimal: it takes ds:SignedInfo
// and xades:SignedProperties byte for byte as they stand in the file, which
// is their exclusive canonical form only when the sender wrote them
// canonically (the adapter does); a sender that relies on a canonicaliser
// would be refused here though a full verifier would accept it.
//
// Receipts are JWS (RS256, x5c = the provider certificate) whose payload is
// the published receipt shape (schemas/dpi/innbyggerpost_dpi_<type>_1_0
// .schema.json): {"standardBusinessDocument": {
//   "standardBusinessDocumentHeader": {sender 0192:922020175, receiver the
//     message's sender, documentIdentification {type, instanceIdentifier =
//     the receipt id}, businessScope ConversationId = the message id},
//   "<type>": {"avsender", "mottaker", "tidspunkt", and "feiltype"/
//     "detaljer" for feil, "varslingskanal"/"beskrivelse" for
//     varslingfeiletkvittering}}}.
// After an accepted message: leveringskvittering at once, and
// aapningskvittering after the configured read delay (never by default).
#ifndef UTPOST_SIM_DPI_H_
#define UTPOST_SIM_DPI_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"

namespace httplib {
class Server;
struct Response;
}  // namespace httplib

namespace utpost::sim {

struct DpiSimOptions {
  // CA (PEM) the senders' business certificates must chain to.
  std::string ca_file;
  // The mailboxes' encryption certificate and key (PEM).
  std::string mailbox_cert_file;
  std::string mailbox_key_file;
  // The provider's receipt-signing certificate and RSA key (PEM).
  std::string receipt_cert_file;
  std::string receipt_key_file;
  // Decides a bearer token for a scope; null: any non-empty token.
  std::function<bool(const std::string& token, const std::string& scope)>
      token_check;
  // True when `person` has a mailbox here and takes digital post.
  std::function<bool(const std::string& person)> reachable;
  // Answers `res` with an injected fault for `endpoint` ("dpi" for sends,
  // "dpi_in" for the receipt queue) and returns true when one is due.
  std::function<bool(const std::string& endpoint, httplib::Response& res)>
      fault;
  // Not owned. Required.
  const Clock* clock = nullptr;
};

class DpiSim {
 public:
  // INVALID_ARGUMENT naming the option for an unreadable file.
  static absl::StatusOr<std::unique_ptr<DpiSim>> Create(DpiSimOptions options);
  virtual ~DpiSim() = default;

  // Adds the routes above and the test-control route
  // POST /sim/v1/dpi/receipts (documented in sim/simulator.h).
  virtual void Register(httplib::Server* server) = 0;
  // {"<message id>": {"accepted": N, "duplicates": M}}.
  virtual nlohmann::json Deliveries() const = 0;
  // Forgets messages, counts, receipts and receipt behaviour.
  virtual void Reset() = 0;
  // Base64 DER of the mailbox certificate (the registry's "sertifikat").
  virtual std::string MailboxCertificateBase64() const = 0;
};

}  // namespace utpost::sim

#endif  // UTPOST_SIM_DPI_H_
