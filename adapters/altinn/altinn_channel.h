// Letters to organisations' inboxes through an Altinn 3 Correspondence-
// shaped service (PROTOCOLS.md, "Organisation inbox"). Channel name
// "altinn".
//
// Send: POST {base_url}/correspondence/api/v1/correspondence/upload,
// multipart/form-data: a part "correspondence" (application/json) with
// resourceId, sender "urn:altinn:organization:identifier-no:<tenant>",
// sendersReference and idempotentKey (both the letter's message_id),
// recipients ["urn:altinn:organization:identifier-no:<orgnr>"], content
// {language, messageTitle, messageSummary, messageBody}, requestedPublishTime
// (now), notification {notificationTemplate "CustomMessage", emailSubject,
// emailBody, smsBody, sendReminder false}, isConfidential; then one part
// "attachments" per document (filename = the document's file name).
//
// Statuses are read from an Altinn Events-style feed, not per
// correspondence: GET {base_url}/events/api/v1/events?resource=urn:altinn:
// resource:<resource_id>&after=<cursor>&size=<max> returns CloudEvents;
// no.altinn.correspondence.correspondencepublished -> kDelivered,
// ...correspondencereceiverread and ...correspondencereceiverconfirmed ->
// kRead, ...correspondencepublishfailed -> kFailed (reason: the
// correspondence's statusText), ...notificationfailed -> kNotificationFailed;
// other types are skipped. The event's correspondence is matched to the
// letter by its idempotentKey, read with GET .../correspondence/{id} (kept
// in memory after the first time). The cursor moves on ConfirmEvents over
// the events stored and those not ours; it is kept in `positions` (feed
// "altinn:<resource_id>") when given, so that a restart goes on from there,
// else in memory only (a restart reads the feed from its start, and the
// dispatcher recognises repeated events by their ids).
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

// The scope Altinn tokens are asked for.
inline constexpr char kAltinnScope[] = "altinn:correspondence.write";

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
// 422: a recipient without an inbox included), with the problem's
// title and detail; a 409 for our idempotentKey is a kDuplicate success;
// UNAUTHENTICATED (after one new token) for 401; PERMISSION_DENIED for 403;
// FAILED_PRECONDITION for 404 and other statuses; DEADLINE_EXCEEDED for
// 408; UNAVAILABLE for 5xx, 429 and unreadable replies; transport errors as
// HttpClient gives them. INVALID_ARGUMENT naming the option for missing
// options. `http` is not owned and must outlive the channel. Thread-safe.
absl::StatusOr<std::unique_ptr<Channel>> NewAltinnChannel(AltinnOptions options,
                                                          HttpClient* http);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_ALTINN_ALTINN_CHANNEL_H_
