// utpost-sim's fault model: what goes wrong, per endpoint, on a test's
// command (POST /sim/v1/faults; the fields are described in simulator.h).
// Endpoints are plain names ("digipost", "print", "registry",
// "digipost-events", "token", "altinn", ...); the model knows nothing of
// them beyond the name.
#ifndef UTPOST_SIM_FAULTS_H_
#define UTPOST_SIM_FAULTS_H_

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace utpost::sim {

// One endpoint's faults.
struct FaultSpec {
  // HTTP status of an injected failure; 0 answers normally (latency only).
  int status = 503;
  // Injected failures (or, with status 0, delayed answers) before the fault
  // clears itself; -1: until cleared.
  int count = 1;
  // Latency added to every request the fault touches.
  int64_t delay_ms = 0;
  // Which requests fail: each with this probability (0 < p <= 1), or every
  // k-th (every_nth = k); neither: every request while the fault lasts.
  double error_rate = 0;
  int every_nth = 0;
  // The provider's own error code and type in the body (e.g. Digipost
  // "UNKNOWN_RECIPIENT", "CLIENT_DATA"); empty: "SIMULATED_FAULT" and, for
  // Digipost, SERVER for 5xx else CLIENT_TECHNICAL.
  std::string error_code;
  std::string error_type;
  // Instead of an answer: hold the request this long (the client gives up
  // first), or close the connection mid-answer.
  int64_t timeout_ms = 0;
  bool drop = false;
  // For event and receipt feeds (lasting until cleared; no failure):
  // every event served twice; events held back this long after they
  // happen; a page served in reverse order.
  bool duplicate_events = false;
  int64_t late_ms = 0;
  bool out_of_order = false;
  // Only requests whose subject contains this text are touched (and
  // counted): for "print" the job's manifest, so that a fault refuses every
  // job holding one letter (matched by its message id or a document's file
  // name) and no other. Empty: every request.
  std::string match;
};

// What to do with one request.
struct FaultDecision {
  enum class Action { kNone, kFail, kTimeout, kDrop };
  Action action = Action::kNone;
  int64_t delay_ms = 0;  // Before acting (also with kNone).
  int status = 0;
  std::string error_code;
  std::string error_type;
  int64_t timeout_ms = 0;
};

// How an event feed is to be disturbed.
struct EventFaults {
  bool duplicate = false;
  int64_t late_ms = 0;
  bool out_of_order = false;
};

// Thread-safe.
class FaultModel {
 public:
  FaultModel();

  // Parses a POST /sim/v1/faults body and sets (count 0: clears) the
  // endpoint's fault. INVALID_ARGUMENT naming the field otherwise.
  absl::Status SetFromJson(std::string_view body);
  void Set(const std::string& endpoint, const FaultSpec& spec);
  void Clear();

  // Decides for one request to `endpoint` about `subject` (see
  // FaultSpec::match), using up one count of its fault when it injects
  // something.
  FaultDecision OnRequest(const std::string& endpoint,
                          std::string_view subject = {});
  EventFaults EventsOf(const std::string& endpoint);
  // Failures, timeouts and drops injected so far, by endpoint (not
  // cleared by Clear; by Reset).
  absl::flat_hash_map<std::string, int64_t> Injected();
  void Reset();

 private:
  struct State {
    FaultSpec spec;
    int64_t seen = 0;  // Requests seen, for every_nth.
  };
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, State> faults_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> injected_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_);
};

}  // namespace utpost::sim

#endif  // UTPOST_SIM_FAULTS_H_
