// Statistics per tenant and month (#14): the period a caller asks for, and
// the figures of utpost.v1.StatsService made from the store's
// LetterStatistics. Months are calendar months in Europe/Oslo.
#ifndef UTPOST_GATEWAY_API_STATISTICS_H_
#define UTPOST_GATEWAY_API_STATISTICS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gateway/api/pricing.h"
#include "gateway/store/ops_records.h"
#include "utpost/v1/stats.pb.h"

namespace utpost::api {

// [from, to) in days of `zone`.
struct StatsPeriod {
  absl::CivilDay from;
  absl::CivilDay to;
  absl::TimeZone zone;
  int64_t from_ms() const;
  int64_t to_ms() const;
};

// Europe/Oslo; UTC (with a warning in the log) when tzdata lacks it.
absl::TimeZone StatsTimeZone();

// "2026", "2026-03", "2026-01-15..2026-02-01", "2026-01..2026-04" (the end
// exclusive), or "" for the year of `now`. INVALID_ARGUMENT for anything
// else, an empty or reversed range, one over 120 months, and years outside
// 2000..2999.
absl::StatusOr<StatsPeriod> ParseStatsPeriod(const std::string& text,
                                             absl::Time now,
                                             absl::TimeZone zone);

struct StatsInput {
  StatsPeriod period;
  UnitPrices prices;
  // Tenants to list even without letters (by organisation number).
  std::set<std::string> tenants;
  std::map<std::string, std::string> tenant_names;
};

// The figures of `facts` (letters created in the period), per tenant and
// month, with every month of the period and every channel present.
v1::Statistics SummariseStatistics(
    const StatsInput& input, const std::vector<store::LetterFacts>& facts);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_STATISTICS_H_
