// The simulated Digipost's document event feed (what the recipient and the
// provider did after delivery), served at the entry point's
// document_events link
//   GET /documents/events?from=<time>&to=<time>&offset=N&maxResults=M
// (times as yyyy-MM-dd'T'HH:mm:ss.SSSxxx, the Java client's format), signed
// like a send (see simulator.h). Events appear in the order they became
// available; `offset` counts from the first event of the feed. The shape is
// api_v8.xsd's `document-events`, every field an attribute:
//
//   <document-events xmlns="http://api.digipost.no/schema/v8">
//     <event uuid="<the document's uuid>"
//            type="OPENED|PRINT_FAILED|POSTMARKED|SHREDDED|
//                  EMAIL_NOTIFICATION_FAILED|SMS_NOTIFICATION_FAILED"
//            created="2026-11-23T12:00:00.000Z"
//            document-created="2026-11-23T11:00:00.000Z"/>
//   </document-events>
// As Digipost's, the events name documents, not messages, and have no id of
// their own.
#ifndef UTPOST_SIM_DIGIPOST_EVENTS_H_
#define UTPOST_SIM_DIGIPOST_EVENTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sim/faults.h"

namespace utpost::sim {

// Reads a feed query time, yyyy-MM-dd'T'HH:mm:ss.SSSxxx exactly
// ("2026-11-23T12:00:00.000+01:00"), into Unix milliseconds.
std::optional<int64_t> ParseFeedTime(std::string_view text);

// Thread-safe.
class DigipostEventFeed {
 public:
  // An event of `type` about the document `document_uuid` (delivered at
  // `document_created_ms`) that happens at `at_ms`.
  void Schedule(const std::string& document_uuid, const std::string& type,
                int64_t at_ms, int64_t document_created_ms);
  // The feed's XML page at `now_ms`, after moving what became available
  // into the feed (disturbed as `faults` say).
  std::string Page(int64_t now_ms, int64_t offset, int64_t max,
                   const EventFaults& faults);
  // Events served so far (each copy of a duplicate counted).
  int64_t served();
  void Reset();

 private:
  struct Event {
    std::string document_uuid;
    std::string type;
    int64_t at_ms = 0;
    int64_t document_created_ms = 0;
  };
  absl::Mutex mu_;
  std::vector<Event> scheduled_ ABSL_GUARDED_BY(mu_);
  std::vector<Event> feed_ ABSL_GUARDED_BY(mu_);
  int64_t served_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace utpost::sim

#endif  // UTPOST_SIM_DIGIPOST_EVENTS_H_
