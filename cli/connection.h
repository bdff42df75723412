// How utpostctl reaches utpostd: address and mTLS files, from flags, then
// the environment (UTPOST_SERVER, UTPOST_CA, UTPOST_CERT, UTPOST_KEY), then
// a config file (--config FILE, else ~/.config/utpost/utpostctl.yaml when
// it exists), then defaults (127.0.0.1:7443 and the development
// certificates in certs-dev/).
#ifndef UTPOST_CLI_CONNECTION_H_
#define UTPOST_CLI_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace utpost::cli {

struct ConnectionOptions {
  std::string server;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Seconds per call; 0 = no deadline (watch); -1 = not given (the config
  // file's `timeout`, else 30).
  int timeout_seconds = -1;
  // YAML with any of `server`, `ca`, `cert`, `key` (paths relative to the
  // file) and `timeout`. Empty: the default file, if it exists.
  std::string config_file;
};

// ~/.config/utpost/utpostctl.yaml (under $XDG_CONFIG_HOME when set).
std::string DefaultConfigFile();

// Fills what flags left empty from the environment and defaults. The client
// certificate and key come as a pair: flags give both or neither, and so do
// UTPOST_CERT and UTPOST_KEY; INVALID_ARGUMENT when only one of a pair is
// given, since the other would silently be one meant for another identity.
// INVALID_ARGUMENT also for a config file given but unreadable, or with an
// unknown key.
absl::StatusOr<ConnectionOptions> ResolveConnection(ConnectionOptions flags);

// An mTLS channel; INVALID_ARGUMENT when a file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const ConnectionOptions& options);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_CONNECTION_H_
