// Loads utpostd's configuration (utpost.config.v1.Config) from YAML, fills
// in the documented defaults, resolves relative paths against the file's
// folder and validates it. Bad configuration is reported with the name of
// the setting, so the daemon can stop with a message an operator can act on.
#ifndef UTPOST_GATEWAY_CONFIG_CONFIG_LOADER_H_
#define UTPOST_GATEWAY_CONFIG_CONFIG_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::config {

// Reads and validates the YAML file at `path`. INVALID_ARGUMENT names the
// setting ("broker.port: must be 1..65535"); NOT_FOUND for a missing file.
absl::StatusOr<v1::Config> LoadConfigFile(const std::string& path);

// Same, from YAML text; relative paths are resolved against `base_dir`.
absl::StatusOr<v1::Config> ParseConfig(const std::string& yaml,
                                       const std::string& base_dir);

}  // namespace utpost::config

#endif  // UTPOST_GATEWAY_CONFIG_CONFIG_LOADER_H_
