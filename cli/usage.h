// Diagnoses a command line CLI11 refused: the unknown command or flag in
// it, and the real name it was probably meant as ("did you mean ...").
#ifndef UTPOST_CLI_USAGE_H_
#define UTPOST_CLI_USAGE_H_

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace utpost::cli {

// Walks `args` (argv without the program name) through `app`'s commands as
// CLI11 would. Returns a message for the first unknown command or flag,
// such as
//   unknown command "stauts"; did you mean "status"?
//   unknown flag "--stat" for "letters"; did you mean "--state"?
// naming the closest real name when one is near (EditDistance), else the
// real ones. Empty when every command and flag is known (the error is
// something else: a missing value, a bad number).
std::string DiagnoseUnknown(const CLI::App& app,
                            const std::vector<std::string>& args);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_USAGE_H_
