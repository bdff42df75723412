// A retry delay carried on an absl::Status: set where a refusal is decided
// (a tenant over its rate or its daily quota), read where the status goes
// on the wire (a google.rpc.RetryInfo detail, SubmitBatchResult.retry_delay).
#ifndef UTPOST_COMMON_RETRY_DELAY_H_
#define UTPOST_COMMON_RETRY_DELAY_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"

namespace utpost {

// `s` with a retry delay of `delay_ms` (at least 1 ms).
absl::Status WithRetryDelay(absl::Status s, int64_t delay_ms);

// The retry delay of `s` in milliseconds, if it has one.
std::optional<int64_t> RetryDelayMillis(const absl::Status& s);

}  // namespace utpost

#endif  // UTPOST_COMMON_RETRY_DELAY_H_
