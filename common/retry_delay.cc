#include "common/retry_delay.h"

#include <algorithm>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

namespace utpost {
namespace {

// The payload's type URL; its value is the delay in decimal milliseconds.
constexpr char kRetryDelayUrl[] = "utpost.dev/retry-delay-ms";

}  // namespace

absl::Status WithRetryDelay(absl::Status s, int64_t delay_ms) {
  s.SetPayload(kRetryDelayUrl,
               absl::Cord(std::to_string(std::max<int64_t>(delay_ms, 1))));
  return s;
}

std::optional<int64_t> RetryDelayMillis(const absl::Status& s) {
  auto payload = s.GetPayload(kRetryDelayUrl);
  if (!payload.has_value()) return std::nullopt;
  int64_t ms = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &ms)) return std::nullopt;
  return ms;
}

}  // namespace utpost
