// Letters to organisations' inboxes through Altinn 3 Correspondence
// (Altinn/altinn-correspondence; docs/protocols.md names the source
// of every rule). Channel name "altinn".
//
// Send: POST {base_url}/correspondence/api/v1/correspondence/upload,
// multipart/form-data with one text field per bound property of
// InitializeCorrespondencesExt, named as the project's own tests send them
// (CorrespondenceHelper.CorrespondenceToFormData): correspondence.resourceId,
// correspondence.sender ("urn:altinn:organization:identifier-no:<tenant>"),
// correspondence.sendersReference (the letter's message_id),
// correspondence.content.{language, messageTitle, messageSummary,
// messageBody}, correspondence.content.attachments[i].{fileName,
// displayName, sendersReference, isEncrypted, dataLocationType} for each
// document, correspondence.notification.{notificationTemplate
// "CustomMessage", emailSubject, emailBody, smsBody, sendReminder false,
// notificationChannel "EmailPreferred"},
// correspondence.isConfidential, recipients[0]
// ("urn:altinn:organization:identifier-no:<orgnr>") and idempotentKey (the
// message_id, a GUID) beside `correspondence`; then one file part
// "attachments" per document, in the same order, with its file name. Texts
// are cut to the binding's maximum lengths (title and summary 255, e-mail
// subject 128, e-mail body 1024, SMS 160, file name 255).
//
// Answers: 200 InitializeCorrespondencesResponseExt; a 409 (1034, the
// idempotentKey is known) is a kDuplicate success. Altinn's 409 carries no
// correspondence id, and the adapter does not search for one: the
// duplicate records the problem's text as its reference; its events are
// still matched (below), by the idempotentKey the correspondence carries.
//
// Statuses come from Altinn Events: GET {base_url}/events/api/v1/events?
// resource=urn:altinn:resource:<resource_id>&after=<cursor>&size=<max>, with
// `after` always present ("0" the first time, as the Events API documents),
// with a token for scope altinn:events.subscribe. CloudEvents:
// no.altinn.correspondence.correspondencepublished -> kDelivered,
// ...correspondencereceiverread and ...correspondencereceiverconfirmed ->
// kRead, ...correspondencepublishfailed -> kFailed (reason: the
// correspondence's statusText), ...notificationfailed -> kNotificationFailed;
// other types are skipped. The event's correspondence ("resourceinstance")
// is matched to the letter by its idempotentKey (else sendersReference),
// read with GET .../correspondence/{id} (kept in memory after the first
// time). The cursor moves on ConfirmEvents over the events stored and those
// not ours; it is kept in `positions` (feed "altinn:<resource_id>") when
// given, so that a restart goes on from there, else in memory only.
//
// Every SendResult and ProviderEvent names Altinn's operator, Digdir
// (kAltinnProvider).
#ifndef UTPOST_ADAPTERS_ALTINN_ALTINN_CHANNEL_H_
#define UTPOST_ADAPTERS_ALTINN_ALTINN_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/channel.h"
#include "adapters/http/http_client.h"
#include "adapters/http/token_source.h"
#include "common/clock.h"

namespace utpost::adapters {

// The scopes the Maskinporten token behind an Altinn token is asked for, to
// send and read correspondence as a service owner (SenderScopePolicy:
// altinn:correspondence.write, and altinn:serviceowner for a token from
// Maskinporten).
inline constexpr char kAltinnScope[] =
    "altinn:serviceowner altinn:correspondence.write";
// The scope for reading Altinn Events (altinn-events AuthorizationConstants
// SCOPE_EVENTS_SUBSCRIBE).
inline constexpr char kAltinnEventsScope[] = "altinn:events.subscribe";
// Altinn's operator, Digitaliseringsdirektoratet (organisation number), the
// provider named on Altinn's hand-over receipts.
inline constexpr char kAltinnProvider[] = "991825827";

struct AltinnOptions {
  // The platform's base URL, e.g. "https://platform.tt02.altinn.no".
  // Required.
  std::string base_url;
  // The resource correspondence is sent under. Required.
  std::string resource_id;
  // Content language: "nb" (default), "nn" or "en".
  std::string language = "nb";
  // Notification texts. Empty: a short Norwegian notice.
  std::string notification_email_subject;
  std::string notification_email_body;
  std::string notification_sms_body;
  // Altinn tokens (see NewAltinnTokenSource). Not owned. Required.
  TokenSource* tokens = nullptr;
  // Kept alive as long as the channel (for a `tokens` made just for it).
  // Default null.
  std::shared_ptr<TokenSource> tokens_owner;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
  // Where the event cursor is kept. Not owned. Null: in memory only.
  FeedPositions* positions = nullptr;
};

// Send errors: INVALID_ARGUMENT for a letter without an organisation
// number, and for the service's 4xx refusals of the letter (400, 413, 415,
// 422), with the problem's title, detail and error code; a recipient Altinn
// cannot deliver to (1029: no party in Altinn's register, 1030: reserved)
// is INVALID_ARGUMENT "... has no digital inbox in Altinn ..."; a 409 is a
// kDuplicate success; UNAUTHENTICATED (after one new token) for 401;
// PERMISSION_DENIED for 403; FAILED_PRECONDITION for 1036 (unknown
// resource), other 404s and other statuses; DEADLINE_EXCEEDED for
// 408; UNAVAILABLE for 5xx, 429 and unreadable replies; transport errors as
// HttpClient gives them. INVALID_ARGUMENT naming the option for missing
// options. `http` is not owned and must outlive the channel. Thread-safe.
absl::StatusOr<std::unique_ptr<Channel>> NewAltinnChannel(AltinnOptions options,
                                                          HttpClient* http);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_ALTINN_ALTINN_CHANNEL_H_
