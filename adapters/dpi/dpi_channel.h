// The digital mailbox channel, DPI style (PROTOCOLS.md, "Digital mailbox
// via DPI"), for citizens whose mailbox is at a DPI provider (e-Boks).
//
// Send: one multipart/form-data request per letter, with a bearer token,
// as felleslosninger/docs nyinf/api/openapi_spec.yaml publishes it.
//
//   POST {url}/messages/out[?kanal=<kanal>]
//   part "forretningsmelding" (application/jose): compact JWS, RS256, x5c =
//        the sender's business certificate chain; payload the business
//        message of schemas/dpi/innbyggerpost_dpi_digital_1_0.schema.json
//        (or ..._utskrift_1_0 for print through DPI):
//        {"standardBusinessDocument": {
//          "standardBusinessDocumentHeader": {
//           "headerVersion": "1.0",
//           "sender":   [{"identifier": {"authority": "iso6523-actorid-upis",
//                                        "value": "0192:<tenant orgnr>"}}],
//           "receiver": [{"identifier": {"authority": "iso6523-actorid-upis",
//                "value": "0192:<mailbox provider orgnr>"}}],  (print: the
//                print provider's; never a person)
//           "documentIdentification": {"standard": <identifiers.md>,
//              "typeVersion": "1.0", "instanceIdentifier": <message id>,
//              "type": "digital"|"utskrift", "creationDateAndTime"},
//           "businessScope": {"scope": [{"type": "ConversationId",
//              "instanceIdentifier": <message id>, "identifier": <process>,
//              "scopeInformation": [{"expectedResponseDateTime"}]}]}},
//          "digital": {"avsender": {"virksomhetsidentifikator",
//             ["avsenderidentifikator"]}, "mottaker": {"postkasseadresse"},
//             "dokumentpakkefingeravtrykk": {"digestMethod": xmlenc#sha256,
//             "digestValue": base64 SHA-256 of the dokumentpakke part},
//             "maskinportentoken": <the request's bearer token>,
//             "sikkerhetsnivaa": 3 (4 when confidential), "virkningsdato",
//             "aapningskvittering": true, "ikkesensitivtittel", "spraak",
//             ["varsler": {"epostvarsel"|"smsvarsel": {address,
//             "varslingstekst", "repetisjoner"}}]}
//          | "utskrift": {"avsender", "mottaker": <address>,
//             "dokumentpakkefingeravtrykk", "maskinportentoken",
//             "utskriftstype": "SORT_HVIT"|"FARGE", "retur": {"mottaker":
//             <return address>, "returposthaandtering": "DIREKTE_RETUR"|
//             "MAKULERING_MED_MELDING"}, "posttype": "A"|"B"}}}
//   part "dokumentpakke" (application/cms): CMS EnvelopedData (DER) around
//        the ASiC-E container of asice.h, to the mailbox certificate
//        (digital) or the print provider's certificate (print).
//
// The message id must be a UUID (the gateway's message ids are); it is the
// SBD instance identifier and the conversation id, so receipts name it.
// A 401 is answered once with a new token, and so a new business message
// (the token is inside it).
//
// Receipts (adapters/dpi/dpi_receipts.h has the shapes): the unread
// messages of the provider's in-queue, listed and then marked read.
//
//   GET  {url}/messages/in?page_size=N[&kanal=K][&avsenderidentifikator=A]
//        -> 200 [{"forretningsmelding": <JWS>}, ...], oldest first,
//        unchanged until marked read; 204: none unread
//   POST {url}/messages/in/{id}/read -> 200 (404: not there, taken as read
//        before); {id} = the receipt's signed instanceIdentifier
//
// Each JWS is verified (signature, x5c chain to the provider CA and/or equal
// to the provider certificate) and parsed as ParseDpiReceipt() says;
// evidence = the JWS verbatim. A receipt that fails verification or parsing
// is logged (masked, bounded), left unread at the provider for an operator,
// and skipped by later fetches of this process.
#ifndef UTPOST_ADAPTERS_DPI_DPI_CHANNEL_H_
#define UTPOST_ADAPTERS_DPI_DPI_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/channel.h"
#include "adapters/http/http_client.h"
#include "adapters/http/token_source.h"
#include "common/clock.h"

namespace utpost::adapters {

struct DpiOptions {
  // Scheme, host and port (and optional path prefix) of the DPI
  // integration point, e.g. "https://127.0.0.1:8443". Required.
  std::string base_url;
  // Token scopes for sending and for the receipt queue. The OpenAPI names
  // one scope for every operation.
  std::string scope = "digitalpostinnbygger:send";
  std::string receipt_scope = "digitalpostinnbygger:send";
  // The sender's business certificate: RSA key (PEM) and its certificate
  // followed by intermediates (PEM). Both required.
  std::string signing_key_file;
  std::string certificate_file;
  // The root CA (PEM) of that chain, added to the package signature, which
  // must carry the chain up to and including the root. Empty: the chain
  // as certificate_file has it.
  std::string certificate_root_file;
  // Trust for the provider's receipts: its signing certificate (pinned)
  // and/or the CA its chain must lead to. At least one required.
  std::string provider_certificate_file;
  std::string provider_ca_file;
  // "avsender.avsenderidentifikator" (the sender's id at the provider, at
  // most 100 characters); empty omits it.
  std::string sender_id;
  // The sender system's channel (MPC) at the access point: sends carry it,
  // and the receipt listing asks for this channel's receipts only. Empty:
  // none (the listing gives receipts of every channel). At most 28 of
  // a-z, A-Z, 0-9, '_', '-'.
  std::string kanal;
  // Receipts asked for per listing (page_size), at most; 1 to 1000.
  int receipt_page_size = 100;
  // "spraak" and the manifest titles' language: ISO 639-1, lower case.
  std::string language = "no";
  // "ikkesensitivtittel" of a confidential letter (its own title may be
  // sensitive); others show their title.
  std::string non_sensitive_title = "Brev";
  // "varslingstekst" of the e-mail and SMS notices (at most 160
  // characters, the SMS limit).
  std::string notification_text =
      "Du har mottatt et brev i din digitale postkasse.";
  // The person registry the channel asks for the recipient's mailbox
  // address, provider, certificate and notice addresses just before
  // sending (digital only). Not owned. Null: the letter's own mailbox
  // fields are used as they are.
  Registry* registry = nullptr;
  // Print through DPI (NewDpiPrintChannel): the print provider's
  // organisation number (9 digits; the SBDH receiver and
  // SendResult::provider) and its encryption certificate (PEM). Required
  // there, unused by NewDpiChannel.
  std::string print_provider;
  std::string print_certificate_file;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
};

// Returns the channel named "dpi". `http` and `tokens` are not owned and
// must outlive it. INVALID_ARGUMENT, naming the option, when an option is
// missing or a key or certificate cannot be loaded.
//
// Send() results: 2xx -> kAccepted; 409 -> kDuplicate (the provider has
// this message id). Errors: 401 -> the token is invalidated and the request
// sent once more with a new one, then UNAUTHENTICATED; 403 ->
// PERMISSION_DENIED; 408 -> DEADLINE_EXCEEDED; 429 -> RESOURCE_EXHAUSTED;
// 5xx or feiltype SERVER -> UNAVAILABLE; 404, and 4xx whose "kode" is about
// the request's signature or integrity (UGYLDIG_SIGNATUR,
// UGYLDIG_SERTIFIKAT, UGYLDIG_FINGERAVTRYKK, UGYLDIG_FORESPOERSEL) ->
// FAILED_PRECONDITION (the gateway's set-up: every letter would fail alike);
// other 4xx (unknown recipient, undecryptable package, a document the
// provider refuses) -> INVALID_ARGUMENT. SendResult::provider is the
// mailbox provider's organisation number. A letter without a person, a
// UUID message id or documents -> INVALID_ARGUMENT before anything is
// sent; so is a person the registry gives no DPI mailbox (no address, a
// provider that is not an organisation number, no certificate, reserved
// or not active); a registry error keeps its code (see Registry).
// Messages quote the provider with person numbers masked. Thread-safe.
absl::StatusOr<std::unique_ptr<Channel>> NewDpiChannel(
    const DpiOptions& options, HttpClient* http, TokenSource* tokens);

// Print through DPI: the channel named "dpi-print", made from the same
// code, sending the "utskrift" business message with the package
// encrypted to options.print_certificate_file. The letter needs a
// recipient address (name, 1 to 4 lines of at most 100 characters; in
// Norway a 4-digit postal code and a city, abroad a 2-letter country code)
// and a return address of the same shape; colour, A/B post and shredding
// come from the letter. A bad recipient address -> INVALID_ARGUMENT; a
// missing or bad return address (the tenant's configuration) ->
// FAILED_PRECONDITION. Answers as NewDpiChannel; SendResult::provider is
// options.print_provider. INVALID_ARGUMENT naming the option when
// print_provider is not 9 digits or print_certificate_file cannot be read.
absl::StatusOr<std::unique_ptr<Channel>> NewDpiPrintChannel(
    const DpiOptions& options, HttpClient* http, TokenSource* tokens);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_DPI_DPI_CHANNEL_H_
