// What the Store keeps and reports for operators (#5): counts for the
// status page, failed attempts, paused channels and provider figures.
#ifndef UTPOST_GATEWAY_STORE_OPS_RECORDS_H_
#define UTPOST_GATEWAY_STORE_OPS_RECORDS_H_

#include <cstdint>
#include <string>

#include "utpost/v1/letter.pb.h"

namespace utpost::store {

// Letters of one (tenant, channel, state).
struct LetterGroupCount {
  std::string tenant;
  std::string channel;  // Empty before routing.
  ::utpost::v1::Letter::State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  int64_t count = 0;
  // Least update_time_ms of the group: its longest-waiting letter.
  int64_t oldest_update_time_ms = 0;
};

struct OutboxLag {
  int64_t pending = 0;
  // created time of the oldest unpublished row; 0 when none.
  int64_t oldest_pending_ms = 0;
};

// A filter over all tenants' letters. Unset fields match everything.
struct OpsListFilter {
  std::string tenant;
  ::utpost::v1::Letter::State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;
  std::string client_reference;
  std::string reason_contains;    // Substring of the letter's reason.
  std::string id_prefix;          // Ids starting with this; only [0-9a-f-].
  int64_t created_before_ms = 0;  // Exclusive; 0: no bound.
  int64_t created_after_ms = 0;   // Exclusive; 0: no bound.
  int32_t page_size = 100;
  std::string page_token;  // As for ListFilter.
};

// One failed attempt at a stage, kept for the letter's timeline.
struct FailedAttemptRecord {
  std::string letter_id;
  std::string stage;  // "route", "deliver.digital", "deliver.print".
  int attempt = 0;    // From 1.
  int64_t time_ms = 0;
  std::string error;
  bool parked = false;  // The letter was parked after it.
};

struct PausedChannelRecord {
  std::string channel;
  std::string paused_by;
  int64_t since_ms = 0;
};

// Sends to one channel seen by one process during one window.
struct ProviderStatsRecord {
  std::string process_id;
  std::string channel;
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  int64_t sends = 0;
  int64_t errors = 0;
  int64_t latency_sum_us = 0;  // Microseconds.
  int64_t latency_max_us = 0;
  std::string last_error;  // Empty when none.
};

// Letters created in [from_ms, to_ms), of one tenant or all, for
// statistics (#14).
struct StatsQuery {
  std::string tenant;   // Empty: every tenant.
  int64_t from_ms = 0;  // Creation time, inclusive.
  int64_t to_ms = 0;    // Exclusive.
};

// What statistics need of one letter. Grouping (by month in the tenant's
// time zone) and pricing are the caller's: the engine keeps no calendar.
struct LetterFacts {
  std::string tenant;
  std::string id;
  int64_t create_time_ms = 0;
  ::utpost::v1::Letter::State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;  // The final one; empty when never routed.
  bool read = false;    // A receipt in READ.
  // Time of the first receipt in DELIVERED or SENT_PRINT; 0 when none.
  int64_t delivered_ms = 0;
  bool returned = false;  // A provider event of kind RETURNED.
  bool a_post = false;    // Print options ask for A-post.
  // Sheets the letter takes printed, counted at submission; 0 when not
  // known (stored before the count was kept).
  int print_sheets = 0;
};

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_OPS_RECORDS_H_
