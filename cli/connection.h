// How utpostctl reaches utpostd: address and mTLS files, from flags, then
// the environment (UTPOST_SERVER, UTPOST_CA, UTPOST_CERT, UTPOST_KEY), then
// defaults (127.0.0.1:7443 and the development certificates in certs-dev/).
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
  // Seconds per call; 0 = no deadline (watch).
  int timeout_seconds = 30;
};

// Fills what flags left empty from the environment and defaults. The client
// certificate and key come as a pair: flags give both or neither, and so do
// UTPOST_CERT and UTPOST_KEY; INVALID_ARGUMENT when only one of a pair is
// given, since the other would silently be one meant for another identity.
absl::StatusOr<ConnectionOptions> ResolveConnection(ConnectionOptions flags);

// An mTLS channel; INVALID_ARGUMENT when a file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const ConnectionOptions& options);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_CONNECTION_H_
