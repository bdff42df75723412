// utpostctl audit: export the receipt log and verify an export offline.
//   utpostctl audit export [--tenant ORG] [--from T] [--to T]
//                          [--heads-since N] [-o FILE]
//   utpostctl audit verify FILE [--ca CA.pem] [--previous OLD_FILE]
// The export format is documented in docs/receipt-log.md.
#ifndef UTPOST_CLI_AUDIT_COMMANDS_H_
#define UTPOST_CLI_AUDIT_COMMANDS_H_

#include <cstdint>
#include <string>

#include "cli/commands.h"
#include "cli/connection.h"

namespace CLI {
class App;
}

namespace utpost::cli {

// Adds the "audit" command and its subcommands to `app`, which must outlive
// this.
class AuditCommands {
 public:
  explicit AuditCommands(CLI::App& app);
  // True when the command line chose "audit".
  bool Selected() const;
  // Runs the chosen subcommand; returns the exit code (0 ok, 1 refused by
  // the server or faults found, 2 bad usage or unreadable file, 3
  // unreachable).
  int Run(const ConnectionOptions& c, const Output& out);

 private:
  CLI::App* audit_ = nullptr;
  CLI::App* export_ = nullptr;
  CLI::App* verify_ = nullptr;
  std::string tenant_, from_, to_, output_;
  int64_t heads_since_ = 0;
  std::string file_, ca_, previous_;
};

// The two subcommands, callable without a command line.
int AuditExport(const ConnectionOptions& c, const std::string& tenant,
                const std::string& from, const std::string& to,
                int64_t heads_since, const std::string& output);
int AuditVerify(const std::string& file, const std::string& ca_file,
                const std::string& previous, const Output& out);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_AUDIT_COMMANDS_H_
