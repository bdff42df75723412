// The rate part of a tenant's limits (config TenantLimits): a token bucket
// per tenant in this process. The daily quota is kept by the store
// (store::NewLetter::letters_per_day), where every api process counts.
#ifndef UTPOST_GATEWAY_API_TENANT_LIMITER_H_
#define UTPOST_GATEWAY_API_TENANT_LIMITER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace utpost::api {

struct TenantLimit {
  double letters_per_second = 0;  // 0: no rate limit.
  int burst = 0;                  // 0: one second's worth, at least 1.
  int64_t letters_per_day = 0;    // 0: no daily quota.
};

// Thread-safe.
class TenantLimiter {
 public:
  // `by_tenant` by organisation number; `others` for every other tenant.
  // `clock` is not owned; null: the real clock.
  TenantLimiter(std::map<std::string, TenantLimit> by_tenant,
                TenantLimit others, const Clock* clock = nullptr);

  const TenantLimit& LimitOf(const std::string& tenant) const;

  // One letter of `tenant` against its rate: OK, or RESOURCE_EXHAUSTED
  // naming the rate, with the time until the next letter may come as its
  // retry delay (common/retry_delay.h).
  absl::Status TakeLetter(const std::string& tenant);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };

  const std::map<std::string, TenantLimit> by_tenant_;
  const TenantLimit others_;
  const Clock* const clock_;
  absl::Mutex mu_;
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_TENANT_LIMITER_H_
