#include "gateway/api/tenant_limiter.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/retry_delay.h"

namespace utpost::api {
namespace {

double BurstOf(const TenantLimit& l) {
  if (l.burst > 0) return l.burst;
  return std::max(1.0, std::floor(l.letters_per_second));
}

}  // namespace

TenantLimiter::TenantLimiter(std::map<std::string, TenantLimit> by_tenant,
                             TenantLimit others, const Clock* clock)
    : by_tenant_(std::move(by_tenant)),
      others_(others),
      clock_(clock != nullptr ? clock : RealClock()) {}

const TenantLimit& TenantLimiter::LimitOf(const std::string& tenant) const {
  auto it = by_tenant_.find(tenant);
  return it != by_tenant_.end() ? it->second : others_;
}

absl::Status TenantLimiter::TakeLetter(const std::string& tenant) {
  const TenantLimit& limit = LimitOf(tenant);
  if (limit.letters_per_second <= 0) return absl::OkStatus();
  const double burst = BurstOf(limit);
  const int64_t now = clock_->NowMillis();
  absl::MutexLock lock(&mu_);
  auto [it, fresh] = buckets_.try_emplace(tenant, Bucket{burst, now});
  Bucket& b = it->second;
  if (!fresh && now > b.at_ms) {
    b.tokens = std::min(
        burst, b.tokens + (now - b.at_ms) * limit.letters_per_second / 1000);
  }
  b.at_ms = std::max(b.at_ms, now);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return absl::OkStatus();
  }
  const auto wait_ms = static_cast<int64_t>(
      std::ceil((1 - b.tokens) * 1000 / limit.letters_per_second));
  return WithRetryDelay(
      absl::ResourceExhaustedError(absl::StrCat(
          "tenant ", tenant, " is over its rate of ", limit.letters_per_second,
          " letters a second; retry in ", wait_ms, " ms")),
      wait_ms);
}

}  // namespace utpost::api
