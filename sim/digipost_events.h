// The simulated Digipost's document event feed (what the recipient and the
// provider did after delivery), served by
//   GET /documents/events?from=<RFC 3339>&to=<RFC 3339>&offset=N&maxResults=M
// signed like a send (see simulator.h). Events appear in the order they
// became available; `offset` counts from the first event of the feed.
//
//   <document-events xmlns="http://api.digipost.no/schema/v8">
//     <event>
//       <uuid>event id</uuid>
//       <type>OPENED|PRINT_FAILED|POSTMARKED|SHREDDED|
//             EMAIL_NOTIFICATION_FAILED|SMS_NOTIFICATION_FAILED</type>
//       <created>2026-11-23T12:00:00.000Z</created>
//       <document-uuid>the document's uuid</document-uuid>
//     </event>
//   </document-events>
// As Digipost's, the events name documents, not messages.
#ifndef UTPOST_SIM_DIGIPOST_EVENTS_H_
#define UTPOST_SIM_DIGIPOST_EVENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sim/faults.h"

namespace utpost::sim {

// Thread-safe.
class DigipostEventFeed {
 public:
  // An event of `type` about the document `document_uuid` that happens at
  // `at_ms`.
  void Schedule(const std::string& document_uuid, const std::string& type,
                int64_t at_ms);
  // The feed's XML page at `now_ms`, after moving what became available
  // into the feed (disturbed as `faults` say).
  std::string Page(int64_t now_ms, int64_t offset, int64_t max,
                   const EventFaults& faults);
  // Events served so far (each copy of a duplicate counted).
  int64_t served();
  void Reset();

 private:
  struct Event {
    std::string id;
    std::string document_uuid;
    std::string type;
    int64_t at_ms = 0;
  };
  absl::Mutex mu_;
  std::vector<Event> scheduled_ ABSL_GUARDED_BY(mu_);
  std::vector<Event> feed_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t served_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace utpost::sim

#endif  // UTPOST_SIM_DIGIPOST_EVENTS_H_
