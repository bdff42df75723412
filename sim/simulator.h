// utpost-sim: one HTTPS server that plays the outside world (PROTOCOLS.md)
// for the demo and the tests.
//
// Service endpoints:
//   POST /rest/v1/personer   contact registry (KRR shape), from the persons
//                            list; unknown numbers are IKKE_REGISTRERT.
//   POST /messages           Digipost-shaped send. Checks X-Digipost-UserId
//                            (and that it equals the configured sender id),
//                            Date within the allowed skew, X-Content-SHA256
//                            and X-Digipost-Signature against the sender
//                            certificate: 403 with an error XML otherwise.
//                            Refuses a recipient without a Digipost mailbox
//                            or reserved (400 CLIENT_DATA
//                            UNKNOWN_RECIPIENT); a repeated message-id is
//                            409 DUPLICATE_MESSAGE; else 200 DELIVERED.
//   POST /print/v1/jobs      print provider (shape in
//                            adapters/print/print_channel.h): checks the
//                            manifest and that each document is a PDF with
//                            the manifest's sha256; repeated job id 409.
// Test-control endpoints (plain JSON):
//   GET    /sim/v1/deliveries  {"digipost": {"<message-id>": {"accepted": N,
//                              "duplicates": M}}, "print": {...},
//                              "registry": {"requests": N, "persons": M},
//                              "digipost_events": {"served": N},
//                              "faults_injected": {"<endpoint>": N}}
//   GET    /documents/events  Digipost-shaped document events (OPENED,
//                              PRINT_FAILED, POSTMARKED, ...), signed like a
//                              send; shape in sim/digipost_events.h. A
//                              person with reads_after_seconds in the
//                              persons file opens each letter that long
//                              after delivery.
//   POST   /sim/v1/events      {"message_id": "...", "type": "OPENED",
//                              "after_ms": 0}: the Digipost feed reports
//                              this event about the message after after_ms.
//                              204.
//   POST   /sim/v1/faults      {"endpoint": "<name>", "status": 503,
//                              "count": 5, "delay_ms": 0, ...}: faults of
//                              one endpoint (sim/faults.h). Endpoint names:
//                              "digipost", "digipost-events", "print",
//                              "registry", and any other plain name
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
//                                duplicate, late_ms, out_of_order: for
//                                          event feeds: every event twice;
//                                          events appear late_ms after they
//                                          happen; a batch appears newest
//                                          first. These alone fail no
//                                          request and last until cleared.
//                              204; 400 naming the field otherwise.
//   DELETE /sim/v1/faults      clears all faults. 204.
//   POST   /sim/v1/reset       forgets all message and job ids, counts,
//                              events and faults. 204.
#ifndef UTPOST_SIM_SIMULATOR_H_
#define UTPOST_SIM_SIMULATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
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
  // Largest accepted difference between a request's Date and the clock.
  // Default 5 minutes.
  int64_t max_date_skew_ms = 5 * 60 * 1000;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
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
