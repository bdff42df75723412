// The print channel: hands letters to a print provider in batch jobs, over
// a small REST shape that Utpost defines (real print providers differ; an
// adapter per provider maps to this), and reads the provider's receipts.
//
// Sending. Letters from concurrent Send() calls are gathered into one job
// (group commit): the first caller waits up to `max_wait_ms` for company,
// less when the job fills up; while `max_jobs_in_flight` jobs are being
// posted, newcomers gather for the next one. Each caller gets its own
// letter's result.
//
//   POST {base_url}/print/v1/jobs
//   Content-Type: multipart/form-data; boundary=...
//   part "manifest" (application/json), then one part per document, named
//   as the manifest says ("document-<letter>-<document>", indexes from 0),
//   filename = the document's file name, the PDF's bytes
//   (application/pdf).
//
// The manifest:
//   {
//     "job_id": "<digest of the letters' message ids: for logs only>",
//     "letters": [{
//       "message_id": "<stable per letter: the idempotency key>",
//       "sender": {"organisation_number": "<tenant>"},
//       "recipient": {"name": "...", "address_lines": ["..."],
//                     "postal_code": "...", "city": "...",
//                     "country_code": "NO"},
//       "return_address": {same shape},
//       "colour": "MONOCHROME" | "COLORS",
//       "duplex": true | false,
//       "post_type": "A" | "B",
//       "return_handling": "RETURN_TO_SENDER" | "SHRED",
//       "cover_page": true | false,  (the first document starts with it)
//       "pages": <all documents>,
//       "sheets": <sum over documents of pages, halved and rounded up when
//                  duplex>,
//       "documents": [{"part": "document-0-0", "file_name": "...",
//                      "sha256": "<64 hex digits>", "pages": N}]
//     }]
//   }
//
// Replies: 200 {"job_id": "...", "letters": [{"message_id": "...",
// "status": "RECEIVED" | "DUPLICATE" | "REJECTED", "error": {"code": "...",
// "message": "..."}}]}: a result per letter. Any other status is about the
// whole job, with {"error": {"code", "message"}}: 400 (or 413, 414, 422,
// 431) a refused job, which may name the letters it refuses in a
// "letters" list of the same shape; 401/403 a caller it does not accept;
// 5xx when the provider cannot take it now.
// Idempotency is per letter message id, not per job: a retried letter may
// travel in another job and is answered DUPLICATE.
//
// Receipts. The provider keeps a queue of events per sender:
//   GET  {base_url}/print/v1/events?limit=N
//     200 {"events": [{"id": "...", "message_id": "...", "type":
//          "RECEIVED" | "POSTED" | "RETURNED" | "FAILED", "time_ms": N,
//          "reason": "..."}]}, oldest first, those not yet acknowledged.
//   POST {base_url}/print/v1/events/ack  {"event_ids": ["...", ...]}
//     204: the provider forgets them.
// Events are acknowledged only after the dispatcher stored them
// (ConfirmEvents), so nothing is lost in a crash; an event fetched twice
// has the same id and is recorded once. Nothing is kept on Utpost's side
// between calls, so any number of workers may poll.
#ifndef UTPOST_ADAPTERS_PRINT_PRINT_CHANNEL_H_
#define UTPOST_ADAPTERS_PRINT_PRINT_CHANNEL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "adapters/channel.h"
#include "adapters/http/http_client.h"
#include "adapters/print/cover_page.h"

namespace utpost::adapters {

struct PrintOptions {
  // Scheme, host and port (and optional path prefix) of the provider, e.g.
  // "https://127.0.0.1:8443". Required.
  std::string base_url;
  // Letters in one job at most. Default 100.
  int max_letters_per_job = 100;
  // Document bytes in one job at most (a single larger letter still goes,
  // alone). Default 32 MiB.
  int64_t max_job_bytes = int64_t{32} << 20;
  // How long the first letter of a job waits for others. Default 20 ms.
  int64_t max_wait_ms = 20;
  // Jobs being posted at once. Default 4.
  int max_jobs_in_flight = 4;
  // Put an address cover page in front of each letter's first document.
  bool cover_page = false;
  CoverPageOptions cover_page_options;
  // Events asked for at most per FetchEvents call: min(this, max).
  int max_events_per_fetch = 500;
  // Named on receipts (SendResult::provider, ProviderEvent::provider): the
  // provider's organisation number. Empty: "print".
  std::string provider;
};

// Returns the channel named "print". `http` is not owned and must outlive
// it.
//
// Send() results: the letter's RECEIVED -> kAccepted (delivered stays
// false: printing comes later); DUPLICATE -> kDuplicate; REJECTED ->
// INVALID_ARGUMENT with the provider's code and reason; a letter missing
// from the reply -> UNAVAILABLE. A job refused for its content (400, 413,
// 414, 422, 431) never takes its good letters with it: the letters the
// refusal names are INVALID_ARGUMENT with the provider's reason and the
// rest go again in a new job; a refusal that names none splits the job in
// halves, each a job of its own, until a letter refused alone is
// INVALID_ARGUMENT with the provider's reason (one bad letter among n
// costs at most 2 * ceil(log2 n) more jobs). Other job-level errors go to
// every letter of the job: 5xx -> UNAVAILABLE; 408 -> DEADLINE_EXCEEDED;
// 429 -> RESOURCE_EXHAUSTED; 401/403 -> PERMISSION_DENIED; anything else
// (404, 415, 409, a malformed URL) -> FAILED_PRECONDITION. A letter
// without message id, documents or recipient name, with a document that
// is not a readable PDF, or with an address the cover page cannot carry
// -> INVALID_ARGUMENT before anything is sent; a cover page that cannot be
// made for want of its font -> FAILED_PRECONDITION. Messages quote the
// provider with person numbers masked.
//
// FetchEvents(): RECEIVED -> kPrintReceived, POSTED -> kPosted, RETURNED
// -> kReturned, FAILED -> kFailed (reason from the provider); unknown types
// are skipped (and acknowledged with the rest). Errors as for a job.
// Thread-safe.
std::unique_ptr<Channel> NewPrintChannel(PrintOptions options,
                                         HttpClient* http);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_PRINT_PRINT_CHANNEL_H_
