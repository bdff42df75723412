// utpostctl's operator commands (OpsService, operator certificate):
// status, letters, letter, redrive, pause, resume, and cancel across
// tenants. Exit codes as in commands.h: 0 ok, 1 refused by the server,
// 2 bad usage or input, 3 server unreachable.
#ifndef UTPOST_CLI_OPS_COMMANDS_H_
#define UTPOST_CLI_OPS_COMMANDS_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "utpost/v1/ops.pb.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace utpost::cli {

// Registers the operator commands on `app` (not owned, outlives this).
// After parsing, Run() runs the one given.
class OpsCommands {
 public:
  explicit OpsCommands(CLI::App* app);

  // True when one of these commands was given on the command line.
  bool Selected() const;
  int Run(const ConnectionOptions& c, const Output& out);

 private:
  // kOk, or kUsage after saying which of --tenant and --channel is bad.
  int CheckFilters() const;

  CLI::App* status_ = nullptr;
  CLI::App* letters_ = nullptr;
  CLI::App* letter_ = nullptr;
  CLI::App* redrive_ = nullptr;
  CLI::App* pause_ = nullptr;
  CLI::App* resume_ = nullptr;

  std::string watch_;  // --watch [SECONDS]: "" once, else seconds.
  CLI::Option* watch_opt_ = nullptr;
  std::string id_;
  std::string channel_;
  std::string state_, tenant_, reference_, reason_, page_token_;
  std::string older_than_, newer_than_;
  int page_size_ = 50;
  bool all_ = false;
  bool dry_run_ = false;
  bool yes_ = false;
};

// Cancels a letter (`id`: an id or a unique prefix): as the caller's tenant,
// or, with an operator certificate, whichever tenant's it is
// (OpsService.CancelLetter).
int CancelAnyTenant(const ConnectionOptions& c, const Output& out,
                    const std::string& id);

// The human `status` report: letters per state in lifecycle order on every
// row (tenants and channels share one column per state), sections with
// nothing to show left out (LETTERS, PARKED and OUTBOX always shown).
void PrintStatus(const v1::Status& s, std::ostream& os);

// "90s", "10m", "2h", "1d", "1h30m" -> seconds. INVALID_ARGUMENT otherwise.
absl::StatusOr<int64_t> ParseDurationSeconds(const std::string& text);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_OPS_COMMANDS_H_
