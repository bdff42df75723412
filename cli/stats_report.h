// The annual report of one tenant as a PDF (utpostctl report): the tenant's
// name, the period's figures, and charts per month of letters sent
// digitally against to print, the read rate and the cost saved against
// sending everything to print. Base-14 fonts (Helvetica), WinAnsi text.
#ifndef UTPOST_CLI_STATS_REPORT_H_
#define UTPOST_CLI_STATS_REPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "utpost/v1/stats.pb.h"

namespace utpost::cli {

// The PDF's bytes for `tenant`, one of `stats.tenants()`. INTERNAL when
// libharu fails.
absl::StatusOr<std::string> StatisticsReportPdf(
    const v1::Statistics& stats, const v1::TenantStatistics& tenant);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_STATS_REPORT_H_
