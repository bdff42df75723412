// The simulated print provider (shape in adapters/print/print_channel.h),
// part of utpost-sim.
//
// Service endpoints:
//   POST /print/v1/jobs        a batch job: multipart manifest + documents.
//                              A malformed job (no manifest, bad JSON, no
//                              letters) is 400 INVALID_MANIFEST; otherwise
//                              200 with a result per letter. Each letter is
//                              checked: sender, recipient and return
//                              address present, the print options, every
//                              document a PDF with the manifest's sha256
//                              and page count, every page A4 portrait, and
//                              its page and sheet totals; a failing letter
//                              is REJECTED with a code (INVALID_LETTER,
//                              NO_ADDRESS, INVALID_DOCUMENTS, NOT_A_PDF,
//                              CHECKSUM_MISMATCH, NOT_A4,
//                              PAGE_COUNT_MISMATCH). A message id seen
//                              before is DUPLICATE; otherwise RECEIVED.
//                              Faults: endpoint "print"; a fault with
//                              "match" touches only the jobs whose
//                              manifest contains that text (a letter's
//                              message id or file name), e.g. {"endpoint":
//                              "print", "status": 400, "count": -1,
//                              "match": "<message id>"} refuses every job
//                              holding that letter.
//   GET  /print/v1/events?limit=N  events not yet acknowledged, oldest
//                              first: RECEIVED when a letter is accepted,
//                              POSTED `posted_after_ms` later, RETURNED or
//                              FAILED when a test asks for them. Faults:
//                              endpoint "print-events".
//   POST /print/v1/events/ack  {"event_ids": [...]}: forgets them. 204.
//                              Faults: endpoint "print-events".
// Test control:
//   POST /sim/v1/print/events  {"message_id": "...", "type": "RETURNED" |
//                              "FAILED", "reason": "..."}: adds the event
//                              for an accepted letter. 204; 404 for a
//                              letter never accepted.
//   POST /sim/v1/print/settings {"posted_after_ms": N}: for letters
//                              accepted from now on. 204.
#ifndef UTPOST_SIM_PRINT_H_
#define UTPOST_SIM_PRINT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace utpost::sim {

struct PrintSimOptions {
  // Delay from a letter's acceptance to its POSTED event. Default 2 s.
  int64_t posted_after_ms = 2000;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
};

// Thread-safe.
class PrintSimulator {
 public:
  // Answers a request with an injected fault for the endpoint if one is
  // due; true when it did. `subject` is what a fault's "match" is looked
  // for in (for jobs: the manifest).
  using FaultHook =
      std::function<bool(const std::string& endpoint, httplib::Response&,
                         std::string_view subject)>;

  explicit PrintSimulator(PrintSimOptions options);

  // Adds the routes above to `server` (not owned; must outlive the routes'
  // use). Call once, before the server starts.
  void Register(httplib::Server* server, FaultHook fault);

  // {"<message id>": {"accepted": N, "duplicates": M}}.
  nlohmann::json Counts() const;

  // Forgets letters, counts and events.
  void Reset();

 private:
  struct Event {
    int64_t seq = 0;
    std::string message_id;
    std::string type;
    int64_t time_ms = 0;
    std::string reason;
  };
  struct LetterState {
    int accepted = 0;
    int duplicates = 0;
    int64_t posted_due_ms = 0;
    bool posted = false;
  };

  void HandleJob(const httplib::Request& req, httplib::Response& res);
  void HandleEvents(const httplib::Request& req, httplib::Response& res);
  void HandleAck(const httplib::Request& req, httplib::Response& res);
  void HandleAddEvent(const httplib::Request& req, httplib::Response& res);
  void HandleSettings(const httplib::Request& req, httplib::Response& res);

  void AddEvent(const std::string& message_id, const std::string& type,
                int64_t time_ms, const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  FaultHook fault_;

  mutable absl::Mutex mu_;
  int64_t posted_after_ms_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, LetterState> letters_ ABSL_GUARDED_BY(mu_);
  // Not yet acknowledged, by sequence number.
  std::map<int64_t, Event> events_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace utpost::sim

#endif  // UTPOST_SIM_PRINT_H_
