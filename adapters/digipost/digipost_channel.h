// The digital mailbox channel, Digipost's API v8 (PROTOCOLS.md, "Digital
// mailbox, Digipost style"; docs/protocols.md). Every endpoint is
// taken from the entry point:
//
//   GET {base_url}/   Accept: application/vnd.digipost-v8+xml
//   -> <entrypoint> with <certificate> (verifies every response) and
//      <link rel=".../relations/create_message" uri=...>,
//      <link rel=".../relations/document_events" uri=...>
//
// read once and kept until a request through it fails in a way a changed
// entry point could explain (transport error, 404, a response that does not
// verify). A send is one signed multipart request to create_message:
//
//   part 1  Content-Type: application/vnd.digipost-v8+xml
//           Content-Disposition: attachment; filename="message"
//           <message> (DigipostMessageXml)
//   part n  Content-Disposition: attachment; filename="<document uuid>"
//           the document's bytes
//
// Each document's uuid is derived from (message_id, index)
// (DigipostDocumentUuid), so a retry sends the same message with the same
// uuids. Every response must carry Digipost's signature
// (DigipostResponseVerifier); a missing or bad one is FAILED_PRECONDITION.
#ifndef UTPOST_ADAPTERS_DIGIPOST_DIGIPOST_CHANNEL_H_
#define UTPOST_ADAPTERS_DIGIPOST_DIGIPOST_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/channel.h"
#include "adapters/digipost/digipost_protocol.h"
#include "adapters/http/http_client.h"
#include "common/clock.h"

namespace utpost::adapters {

struct DigipostOptions {
  // Scheme, host and port (and optional path prefix) of the provider's
  // entry point, e.g. "https://127.0.0.1:8443". Required.
  std::string base_url;
  // The sender's id at the provider: X-Digipost-UserId and <sender-id>.
  // Required.
  std::string sender_id;
  // RSA private key (PEM) of the business certificate that signs requests.
  // Required.
  std::string signing_key_file;
  // CA certificates (PEM) one of which must have issued the certificate
  // the entry point publishes (which verifies every response). Empty: that
  // certificate is taken as the TLS connection to base_url delivers it.
  std::string certificate_ca_file;
  // Source of the Date header. Not owned; default the real clock.
  const Clock* clock = nullptr;
  // How far back the document event feed is read when the channel starts
  // (events seen before are recognised by the store). Default 24 h.
  int64_t events_lookback_ms = int64_t{24} * 3600 * 1000;
  // Where the event feed is read from (feed "digipost:<sender_id>", the
  // position "<from ms>:<offset>"), so that a restart goes on from there.
  // Not owned. Null: in memory only; a restart reads the look-back again.
  FeedPositions* positions = nullptr;
};

// Returns the channel named "digital". `http` is not owned and must outlive
// it. INVALID_ARGUMENT, naming the option, when an option is missing or the
// key or the CA file cannot be loaded.
//
// Send() results: 200/201 -> kAccepted (delivered when the provider says
// DELIVERED); 409 DUPLICATE_MESSAGE -> kDuplicate. Errors: error-type
// SERVER or HTTP 5xx -> UNAVAILABLE; 408 -> DEADLINE_EXCEEDED; 429 ->
// RESOURCE_EXHAUSTED; 401/403 -> PERMISSION_DENIED; error-type
// CLIENT_DATA (but not with 404) -> INVALID_ARGUMENT, the only refusal of
// the letter; anything else (404, CONFIGURATION, CLIENT_TECHNICAL, a
// malformed URL) -> FAILED_PRECONDITION; a letter without recipient or
// documents -> INVALID_ARGUMENT before anything is sent. Messages quote the
// provider's error code and message with person numbers masked.
//
// SendResult::provider is Digipost's organisation number, 984661185.
//
// FetchEvents() reads the document event feed, signed like a send:
//   GET {document_events}?from=&to=&offset=&maxResults=
// (times as yyyy-MM-dd'T'HH:mm:ss.SSSxxx, as the Java client sends them),
// a <document-events> of <event uuid type created document-created/>,
// `uuid` naming the document: an event about a letter's primary document is
// an event about the letter (ProviderEvent::message_id). It maps OPENED ->
// kRead, POSTMARKED ->
// kPosted, PRINT_FAILED -> kFailed, SHREDDED -> kReturned,
// EMAIL/SMS_NOTIFICATION_FAILED -> kNotificationFailed; each event's XML is
// its evidence. ConfirmEvents() moves the feed offset past stored events.
// Thread-safe.
absl::StatusOr<std::unique_ptr<Channel>> NewDigipostChannel(
    const DigipostOptions& options, HttpClient* http);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_DIGIPOST_DIGIPOST_CHANNEL_H_
