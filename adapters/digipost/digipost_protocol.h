// The documents of Digipost's API v8 that Utpost writes and reads, and the
// rule by which Digipost signs its responses. The shapes follow the
// published schema, digipost/digipost-api-client-java
// src/main/resources/xsd/api_v8.xsd (namespace
// http://api.digipost.no/schema/v8); docs/protocols.md says which
// part of the API each comes from. Pure functions and one immutable class:
// thread-safe.
#ifndef UTPOST_ADAPTERS_DIGIPOST_DIGIPOST_PROTOCOL_H_
#define UTPOST_ADAPTERS_DIGIPOST_DIGIPOST_PROTOCOL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/channel.h"
#include "adapters/http/http_client.h"

struct x509_st;

namespace utpost::adapters {

inline constexpr absl::string_view kDigipostNamespace =
    "http://api.digipost.no/schema/v8";
inline constexpr absl::string_view kDigipostMediaType =
    "application/vnd.digipost-v8+xml";
inline constexpr absl::string_view kDigipostMultipartMediaType =
    "multipart/vnd.digipost-v8+xml";
// Digipost's organisation number (Posten Bring's Digipost): the provider
// named on hand-over receipts.
inline constexpr absl::string_view kDigipostOrganisation = "984661185";

// The document uuid sent for document `index` (0 = primary) of the letter
// with `message_id`: the same inputs always give the same uuid, so a retry
// (or another worker after a restart) sends the same one. For the primary
// document of a message whose id is a lowercase uuid (a letter id), that id,
// so that an event naming the primary document names the letter.
std::string DigipostDocumentUuid(const std::string& message_id, int index);

// The `message` element (api_v8.xsd type `message`) for `letter`:
// message-id, sender-id, recipient (personal-identification-number or
// organisation-number), primary-document and one attachment per further
// document, each with uuid, subject, file-type, authentication-level and
// sensitivity-level (PASSWORD and NORMAL; TWO_FACTOR and SENSITIVE for a
// confidential letter). Text is escaped; characters XML 1.0 cannot carry are
// dropped; subjects are cut to the schema's 255 characters.
std::string DigipostMessageXml(const OutgoingLetter& letter,
                               absl::string_view sender_id);

// One `link` of a representation.
struct DigipostLink {
  std::string rel;  // ".../relations/create_message"
  std::string uri;
  std::string media_type;
};

// The entry point (`GET /`, api_v8.xsd type `entrypoint`).
struct DigipostEntryPoint {
  // Digipost's current certificate (PEM), which verifies its responses.
  std::string certificate;
  std::vector<DigipostLink> links;

  // The uri of the link for `relation` (a name of the Java client's
  // Relation enum in lower case: "create_message", "document_events"),
  // matched against the last path segment of each rel ignoring case; ""
  // when there is none.
  std::string LinkFor(absl::string_view relation) const;
};

// Reads an <entrypoint>. INVALID_ARGUMENT when it is not one (not XML,
// another root or namespace, a link without uri).
absl::StatusOr<DigipostEntryPoint> ParseDigipostEntryPoint(
    absl::string_view xml);

// One event of the document event feed (api_v8.xsd type `event`): every
// field an attribute.
struct DigipostDocumentEvent {
  std::string uuid;        // The document's uuid (not the message's).
  std::string type;        // event-type: OPENED, POSTMARKED, ...
  std::string created;     // As sent (xsd:dateTime).
  int64_t created_ms = 0;  // The same, in Unix milliseconds.
  int64_t document_created_ms = 0;
  std::string xml;  // The event element as received, for evidence.
};

// Reads a <document-events> page, events in feed order. INVALID_ARGUMENT
// when the document is not one; an event lacking a required attribute, or
// with a time that is not an xsd:dateTime, is left out (the rest of the page
// is still read).
absl::StatusOr<std::vector<DigipostDocumentEvent>> ParseDigipostDocumentEvents(
    absl::string_view xml);

// The string Digipost signs for a response (the Java client's
// ResponseMessageSignatureUtil):
//   status "\n" lowercase(path) "\n"
//   for each of content-md5, date, x-content-sha256, x-digipost-userid
//   present in `headers` (names matched ignoring case), sorted by name:
//   name ": " value "\n"
// `path` is the request's path without its query. No query line.
std::string CanonicalResponseString(int status, absl::string_view path,
                                    const HttpHeaders& headers);

// Checks Digipost's responses against the certificate its entry point
// publishes. Immutable; thread-safe.
class DigipostResponseVerifier final {
 public:
  // INVALID_ARGUMENT when `certificate_pem` is not an RSA certificate (PEM,
  // or its base64 body alone).
  static absl::StatusOr<std::unique_ptr<DigipostResponseVerifier>>
  FromCertificate(absl::string_view certificate_pem);

  DigipostResponseVerifier(const DigipostResponseVerifier&) = delete;
  DigipostResponseVerifier& operator=(const DigipostResponseVerifier&) = delete;
  ~DigipostResponseVerifier();

  // OK when `response` (to a request for `path`) carries a Date within 5
  // minutes of `now_ms`, an X-Content-SHA256 that matches a non-empty
  // body, and an X-Digipost-Signature (base64 RSA PKCS#1 v1.5 SHA-256)
  // that verifies over CanonicalResponseString. A 401 is not checked (the
  // Java client's VerifyUnlessUnauthorized). Otherwise FAILED_PRECONDITION
  // saying which check failed: a provider set-up fault, never a refusal of
  // a letter.
  absl::Status Verify(const HttpResponse& response, absl::string_view path,
                      int64_t now_ms) const;

  // OK when the certificate is issued by a CA in `ca_file` (PEM) and valid
  // at `now_ms`; otherwise FAILED_PRECONDITION saying why.
  absl::Status CheckIssuedBy(const std::string& ca_file, int64_t now_ms) const;

 private:
  explicit DigipostResponseVerifier(x509_st* certificate);
  x509_st* const certificate_;  // Owned.
};

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_DIGIPOST_DIGIPOST_PROTOCOL_H_
