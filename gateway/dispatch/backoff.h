// Exponential backoff between attempts, as a fixed set of delays (each
// delay is a TTL retry queue in the broker, so the set must be finite).
#ifndef UTPOST_GATEWAY_DISPATCH_BACKOFF_H_
#define UTPOST_GATEWAY_DISPATCH_BACKOFF_H_

#include <vector>

namespace utpost::dispatch {

struct BackoffOptions {
  int initial_delay_seconds = 20;
  int multiplier = 3;
  int max_delay_seconds = 3600;
};

// initial, initial*m, initial*m^2, ... capped at max_delay_seconds; the cap
// is the last element. {20, 3, 3600} gives {20, 60, 180, 540, 1620, 3600}.
// Values below 1 are read as 1 (multiplier 1 gives a single delay).
std::vector<int> BackoffDelays(const BackoffOptions& options);

// The delay before attempt `next_attempt` (1 for the first retry): the
// (next_attempt-1)th delay, the last one repeating.
int DelayBefore(const std::vector<int>& delays, int next_attempt);

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_BACKOFF_H_
