// utpost-sim: one HTTPS server that plays the outside world (PROTOCOLS.md)
// for the demo and the tests.
//
// Service endpoints:
//   POST /rest/v1/personer   contact registry (KRR shape), from the persons
//                            list; unknown numbers are IKKE_REGISTRERT.
//   GET  /                   Digipost's entry point (api_v8.xsd
//                            `entrypoint`): the certificate that verifies
//                            its responses and the links
//                            <base>/relations/create_message -> /messages,
//                            <base>/relations/document_events ->
//                            /documents/events.
//   POST /messages           Digipost-shaped send. Every Digipost call
//                            (these three) is checked as the real service
//                            does: X-Digipost-UserId (and that it equals
//                            the configured sender id), Date within the
//                            allowed skew, X-Content-SHA256 and
//                            X-Digipost-Signature against the sender
//                            certificate (403 with an <error> otherwise),
//                            Accept naming application/vnd.digipost-v8+xml
//                            (406). A send must be
//                            multipart/vnd.digipost-v8+xml (415) whose
//                            first part is a <message> valid against the
//                            published schema (sim/digipost_schema.h; 400
//                            CLIENT_DATA INVALID_MESSAGE), with one part
//                            per listed document (400 INVALID_DOCUMENTS).
//                            Refuses a recipient without a Digipost mailbox
//                            or reserved (400 CLIENT_DATA
//                            UNKNOWN_RECIPIENT); a repeated message-id is
//                            409 DUPLICATE_MESSAGE; else 200 DELIVERED.
//                            Every Digipost answer, refusals and injected
//                            faults included, is signed as Digipost signs
//                            (Date, X-Content-SHA256, X-Digipost-Signature
//                            over status, path and those headers) with
//                            digipost_key_file.
//   /print/v1/...            print provider: batch jobs and the event
//                            feed (sim/print.h).
//   POST /token              Maskinporten-shaped token issuer
//                            (sim/maskinporten.h); the registry asks for
//                            its tokens when require_tokens is set.
//   Altinn 3 Correspondence-shaped endpoints and the Enhetsregisteret-
//                            shaped business registry: sim/altinn.h.
//   POST /messages/out       DPI-shaped send, GET /messages/in and POST
//   /messages/in/{id}/read   the receipt queue: see sim/dpi.h. Persons
//                            with an e-Boks mailbox (922020175) get the
//                            mailbox certificate as "sertifikat" in the
//                            registry's reply.
// Test-control endpoints (plain JSON):
//   GET    /sim/v1/deliveries  {"digipost": {"<message-id>": {"accepted": N,
//                              "duplicates": M}}, "print": {...}, "dpi": {...},
//                              "altinn": {...}, "token": {...},
//                              "registry": {"requests": N, "persons": M},
//                              "digipost_events": {"served": N},
//                              "faults_injected": {"<endpoint>": N}}
//   GET    /documents/events  Digipost-shaped document events (OPENED,
//                              PRINT_FAILED, POSTMARKED, ...), signed like a
//                              send; shape and query in
//                              sim/digipost_events.h (400 INVALID_QUERY for
//                              times not in the Java client's format). A
//                              person with reads_after_seconds in the
//                              persons file opens each letter that long
//                              after delivery.
//   POST   /sim/v1/events      {"message_id": "...", "type": "OPENED",
//                              "after_ms": 0}: the Digipost feed reports
//                              this event about the message's primary
//                              document after after_ms.
//                              204.
//   POST   /sim/v1/faults      {"endpoint": "<name>", "status": 503,
//                              "count": 5, "delay_ms": 0, ...}: faults of
//                              one endpoint (sim/faults.h). Endpoint names:
//                              "digipost", "digipost-events",
//                              "digipost-entrypoint", "print",
//                              "print-events", "registry", "dpi" (sends),
//                              "dpi_in" (receipt queue), "token", "altinn",
//                              "enhetsregisteret", and any other plain name
//                              (lowercase letters, digits, '-', '_') that
//                              a simulated service checks. Fields:
//                                status    HTTP status of each injected
//                                          failure (default 503); 0 answers
//                                          normally after the delay.
//                                count     failures injected before the
//                                          fault clears itself (default 1;
//                                          -1 until cleared; 0 clears).
//                                delay_ms  latency before each answer.
//                                error_rate  each request fails with this
//                                          probability (0-1), or
//                                every_nth every k-th request fails;
//                                          neither: every request.
//                                error_code, error_type  the provider's
//                                          error in the body (Digipost XML
//                                          error-code and error-type, e.g.
//                                          "UNKNOWN_RECIPIENT",
//                                          "CLIENT_DATA"; JSON "code"
//                                          elsewhere). Default
//                                          SIMULATED_FAULT, type SERVER
//                                          for 5xx else CLIENT_TECHNICAL.
//                                timeout   true (or timeout_ms): no answer
//                                          until the client gives up (held
//                                          120 s or timeout_ms, then cut).
//                                drop      true: the connection closes
//                                          mid-answer.
//                                match     only requests whose subject
//                                          holds this text are touched and
//                                          counted ("print": the job's
//                                          manifest, so a letter's id or
//                                          file name refuses every job
//                                          holding that letter).
//                                duplicate, late_ms, out_of_order: for
//                                          event feeds: every event twice;
//                                          events appear late_ms after they
//                                          happen; a batch appears newest
//                                          first. These alone fail no
//                                          request and last until cleared.
//                              204; 400 naming the field otherwise.
//   DELETE /sim/v1/faults      clears all faults. 204.
//   POST   /sim/v1/dpi/receipts  DPI receipts. Without "message_id", sets how
//                              later accepted messages are answered (omitted
//                              keys keep their value):
//                              {"read_after_ms": -1 (never, the default) or
//                              N: the recipient reads N ms after delivery,
//                              "late_ms": N: leveringskvittering is held back
//                              N ms, "duplicate": true: every receipt is
//                              queued twice (same id), "out_of_order": true:
//                              aapningskvittering comes before
//                              leveringskvittering}. With "message_id" (of an
//                              accepted message), queues one receipt now:
//                              {"message_id", "receipt": "aapningskvittering"
//                              (default) | "leveringskvittering" |
//                              "varslingfeiletkvittering" | "feil" |
//                              "mottakskvittering" | "returpostkvittering",
//                              "delay_ms": due after N ms, "feiltype":
//                              "KLIENT|SERVER", "detaljer" (feil),
//                              "varslingskanal": "epost" (default) | "sms",
//                              "beskrivelse" (varslingfeiletkvittering),
//                              "tamper": "signature" (signature broken) |
//                              "signer" (signed by another certificate of the
//                              same CA)}. 204; 404 for an unknown message.
//   POST   /sim/v1/print/...   print test control (sim/print.h).
//   POST   /sim/v1/reset       forgets all message and job ids, counts,
//                              events, faults, DPI receipts and receipt
//                              settings. 204.
#ifndef UTPOST_SIM_SIMULATOR_H_
#define UTPOST_SIM_SIMULATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "sim/organisations.h"
#include "sim/persons.h"

namespace utpost::sim {

struct SimulatorOptions {
  // Address to listen on. Default "127.0.0.1".
  std::string host = "127.0.0.1";
  // 0 picks a free port (see Simulator::port()). Default 8443.
  int port = 8443;
  // Server certificate chain and key (PEM). Required.
  std::string cert_file;
  std::string key_file;
  // The contact registry's people.
  std::vector<SimPerson> persons;
  // Certificate (PEM) whose key signs Digipost requests. Required.
  std::string sender_cert_file;
  // When set, X-Digipost-UserId and <sender-id> must equal it. Default
  // empty: any sender id.
  std::string digipost_sender_id;
  // Digipost's own certificate (published in the entry point) and RSA key
  // (PEM), with which every Digipost response is signed. Defaults: the
  // development PKI, relative to the working directory.
  std::string digipost_cert_file = "certs-dev/digipost-provider.pem";
  std::string digipost_key_file = "certs-dev/digipost-provider.key";
  // DPI (sim/dpi.h): the CA of senders' business certificates, the e-Boks
  // mailboxes' encryption certificate and key, and the provider's
  // receipt-signing certificate and RSA key (PEM). Defaults: the
  // development PKI, relative to the working directory.
  std::string dpi_ca_file = "certs-dev/ca.pem";
  std::string dpi_mailbox_cert_file = "certs-dev/eboks-mailbox.pem";
  std::string dpi_mailbox_key_file = "certs-dev/eboks-mailbox.key";
  std::string dpi_receipt_cert_file = "certs-dev/dpi-provider.pem";
  std::string dpi_receipt_key_file = "certs-dev/dpi-provider.key";
  // Decides a DPI bearer token for a scope ("digdir:dpi:message.out" or
  // "digitalpostinnbygger:send"; "" asks only whether the token is valid,
  // telling 403 from 401). Null: any non-empty token.
  std::function<bool(const std::string& token, const std::string& scope)>
      dpi_token_check;
  // Largest accepted difference between a request's Date and the clock.
  // Default 5 minutes.
  int64_t max_date_skew_ms = 5 * 60 * 1000;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
  // Print: delay from a letter's acceptance to its POSTED event. Default
  // 2 s.
  int64_t print_posted_after_ms = 2000;
  // Token issuer (#3): the CA (PEM) that token grants' x5c must chain to.
  // Empty: no token endpoint (and so no valid token).
  std::string token_ca_file;
  // The issuer identifier grants' aud must equal.
  std::string token_issuer = "https://maskinporten.sim/";
  // Lifetime of issued tokens. Default 120 s.
  int64_t token_lifetime_ms = 120 * 1000;
  // When true, the registry answers only requests with a token of scopes
  // "krr:global/kontaktinformasjon.read krr:global/digitalpost.read" (401
  // or 403 otherwise). Default false.
  bool require_tokens = false;
  // Organisations of the business registry and Altinn (sim/altinn.h).
  std::vector<SimOrganisation> organisations;
  // Requests served at once. Each open keep-alive connection holds a
  // thread until it has been idle for 2 s, so this bounds the connections
  // served at once too; more wait. Default 128.
  int threads = 128;
};

// A running simulator. Destroying it stops it.
class Simulator {
 public:
  virtual ~Simulator() = default;
  // The port it listens on (the chosen one when options.port was 0).
  virtual int port() const = 0;
  // Stops accepting, finishes requests in progress and returns. Idempotent.
  virtual void Stop() = 0;
};

// Binds, then serves on background threads. INVALID_ARGUMENT naming the
// option for unusable certificate or key files or a thread count below 1;
// UNAVAILABLE when the address cannot be bound. Ignores SIGPIPE for the
// whole process (a client that hangs up must not end it).
absl::StatusOr<std::unique_ptr<Simulator>> StartSimulator(
    SimulatorOptions options);

}  // namespace utpost::sim

#endif  // UTPOST_SIM_SIMULATOR_H_
