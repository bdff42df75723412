// utpostctl stats: letters, channels, reads, delivery times and cost per
// tenant and month (StatsService).
//   utpostctl stats [--tenant ORG] [--period 2026|2026-03|FROM..TO]
//                   [--json|--csv]
//   utpostctl report [--tenant ORG] [--period 2026] -o FILE.pdf
// A tenant's certificate sees its own figures; an operator's any tenant's,
// or every tenant's. Exit codes as in output.h.
#ifndef UTPOST_CLI_STATS_COMMANDS_H_
#define UTPOST_CLI_STATS_COMMANDS_H_

#include <ostream>
#include <string>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "utpost/v1/stats.pb.h"

namespace CLI {
class App;
}

namespace utpost::cli {

class StatsCommands {
 public:
  // Adds "stats" to `app`, which must outlive this.
  explicit StatsCommands(CLI::App& app);
  bool Selected() const;
  int Run(const ConnectionOptions& c, const Output& out);

 private:
  // Fetches the figures; an exit code when that fails.
  int Fetch(const ConnectionOptions& c, const std::string& tenant,
            const std::string& period, v1::Statistics* response) const;
  int Report(const ConnectionOptions& c);

  CLI::App* stats_ = nullptr;
  CLI::App* report_ = nullptr;
  std::string tenant_, period_;
  bool csv_ = false;
  std::string report_tenant_, report_period_, report_output_;
};

// Whether `text` has the shape of a period (YEAR, YEAR-MM, or FROM..TO of
// dates or months); the server checks the calendar.
bool LooksLikePeriod(const std::string& text);

// The table: per tenant (name and number), a row per month and a total.
void PrintStatistics(const v1::Statistics& s, std::ostream& os);
// One header line, then a line per tenant and month and one per tenant's
// total (month "total"); amounts in the minor unit, rates as fractions.
void PrintStatisticsCsv(const v1::Statistics& s, std::ostream& os);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_STATS_COMMANDS_H_
