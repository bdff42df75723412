#include "gateway/dispatch/backoff.h"

#include <algorithm>
#include <cstdint>

namespace utpost::dispatch {

std::vector<int> BackoffDelays(const BackoffOptions& options) {
  const int64_t first = std::max(1, options.initial_delay_seconds);
  const int64_t cap = std::max<int64_t>(first, options.max_delay_seconds);
  const int64_t m = std::max(1, options.multiplier);
  std::vector<int> out;
  for (int64_t d = first; d < cap; d *= m) {
    out.push_back(static_cast<int>(d));
    if (m == 1) return out;
  }
  out.push_back(static_cast<int>(cap));
  return out;
}

int DelayBefore(const std::vector<int>& delays, int next_attempt) {
  if (delays.empty()) return 0;
  size_t i = next_attempt <= 1 ? 0 : static_cast<size_t>(next_attempt - 1);
  return delays[std::min(i, delays.size() - 1)];
}

}  // namespace utpost::dispatch
