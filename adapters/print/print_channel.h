// The print channel: hands letters to a print provider over a small REST
// shape that Utpost defines (real print providers differ; an adapter per
// provider maps to this).
//
//   POST {base_url}/print/v1/jobs
//   Content-Type: multipart/form-data; boundary=...
//   part "manifest" (application/json), then one part "document" per
//   document, in letter order, with filename = the document's file name
//   and the PDF's bytes (application/pdf).
//
// The manifest:
//   {
//     "job_id": "<message id: the idempotency key>",
//     "sender": {"organisation_number": "<tenant>"},
//     "recipient": {"name": "...", "address_lines": ["..."],
//                   "postal_code": "...", "city": "...",
//                   "country_code": "NO"},
//     "return_address": {same shape},
//     "colour": "MONOCHROME" | "COLORS",
//     "duplex": true | false,
//     "post_type": "A" | "B",
//     "return_handling": "RETURN_TO_SENDER" | "SHRED",
//     "documents": [{"file_name": "...", "sha256": "<64 hex digits>"}]
//   }
// (a document's page count may be added later as "pages"; it is omitted).
//
// Replies: 201 {"job_id": "...", "status": "RECEIVED"} when accepted; 409
// {"error": {"code": "DUPLICATE_JOB", "message": "..."}} when the job id is
// known; 400 {"error": {...}} for a refused job (manifest, documents,
// recipient); 401/403 for a caller it does not accept; 5xx when the
// provider cannot take it now.
#ifndef UTPOST_ADAPTERS_PRINT_PRINT_CHANNEL_H_
#define UTPOST_ADAPTERS_PRINT_PRINT_CHANNEL_H_

#include <memory>
#include <string>

#include "adapters/channel.h"
#include "adapters/http/http_client.h"

namespace utpost::adapters {

struct PrintOptions {
  // Scheme, host and port (and optional path prefix) of the provider, e.g.
  // "https://127.0.0.1:8443". Required.
  std::string base_url;
};

// Returns the channel named "print". `http` is not owned and must outlive
// it.
//
// Send() results: 2xx -> kAccepted (delivered stays false: printing comes
// later); 409 DUPLICATE_JOB -> kDuplicate. Errors: 5xx -> UNAVAILABLE;
// 408 -> DEADLINE_EXCEEDED; 429 -> RESOURCE_EXHAUSTED; 401/403 ->
// PERMISSION_DENIED; 400 -> INVALID_ARGUMENT, the only refusal of the
// letter; anything else (404, 415, another 409, a malformed URL) ->
// FAILED_PRECONDITION; a letter without documents or recipient name ->
// INVALID_ARGUMENT before anything is sent. Messages quote the provider's
// error code and message with person numbers masked. Thread-safe.
std::unique_ptr<Channel> NewPrintChannel(PrintOptions options,
                                         HttpClient* http);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_PRINT_PRINT_CHANNEL_H_
