// The digital mailbox channel, DPI style (PROTOCOLS.md, "Digital mailbox
// via DPI"), for citizens whose mailbox is at a DPI provider (e-Boks).
//
// Send: one multipart/form-data request per letter, with a bearer token.
//
//   POST {url}/messages/out
//   part "forretningsmelding" (application/jose): compact JWS, RS256, x5c =
//        the sender's business certificate chain; payload a Standard
//        Business Document in JSON:
//        {"standardBusinessDocumentHeader": {
//           "headerVersion": "1.0",
//           "sender":   [{"identifier": {"authority": "iso6523-actorid-upis",
//                                        "value": "0192:<tenant orgnr>"}}],
//           "receiver": [{"identifier": {"authority": "iso6523-actorid-upis",
//                                        "value": "<person number>"}}],
//           "documentIdentification": {"standard": ..., "typeVersion": "1.0",
//              "instanceIdentifier": <message id>, "type": "digital",
//              "creationDateAndTime": <RFC 3339>},
//           "businessScope": {"scope": [{"type": "ConversationId",
//              "instanceIdentifier": <message id>, "identifier": ...}]}},
//         "digital": {"avsender", "mottaker", "sikkerhetsnivaa" (3, or 4
//           when confidential), "hoveddokument", "avsenderId", "tittel",
//           "spraak", "digitalPostInfo": {"virkningsdato",
//           "aapningskvittering": true}, "varsler",
//           "dokumentpakkefingeravtrykk": {"digestMethod":
//           "http://www.w3.org/2001/04/xmlenc#sha256", "digestValue":
//           base64 SHA-256 of the dokumentpakke part}}}
//   part "dokumentpakke" (application/cms): CMS EnvelopedData (DER) to the
//        mailbox certificate around the ASiC-E container of asice.h.
//
// The message id must be a UUID (the gateway's message ids are); it is the
// SBD instance identifier and the conversation id, so receipts name it.
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
  // Token scopes for sending and for the receipt queue (the OpenAPI names
  // one scope for every endpoint).
  std::string scope = "digdir:dpi:message.out";
  std::string receipt_scope = "digitalpostinnbygger:send";
  // The sender's business certificate: RSA key (PEM) and its certificate
  // followed by intermediates (PEM). Both required.
  std::string signing_key_file;
  std::string certificate_file;
  // Trust for the provider's receipts: its signing certificate (pinned)
  // and/or the CA its chain must lead to. At least one required.
  std::string provider_certificate_file;
  std::string provider_ca_file;
  // "avsenderId" in the business message (the sender's own id at the
  // provider); empty omits it.
  std::string sender_id;
  // The sender system's channel (MPC) at the access point: sends carry it,
  // and the receipt listing asks for this channel's receipts only. Empty:
  // none (the listing gives receipts of every channel). At most 28 of
  // a-z, A-Z, 0-9, '_', '-'.
  std::string kanal;
  // Receipts asked for per listing (page_size), at most; 1 to 1000.
  int receipt_page_size = 100;
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
// provider refuses) -> INVALID_ARGUMENT. A letter without a person, a
// UUID message id, documents or a mailbox certificate -> INVALID_ARGUMENT
// before anything is sent. Messages quote the provider with person numbers
// masked. Thread-safe.
absl::StatusOr<std::unique_ptr<Channel>> NewDpiChannel(
    const DpiOptions& options, HttpClient* http, TokenSource* tokens);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_DPI_DPI_CHANNEL_H_
