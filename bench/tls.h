// Credentials for the benchmarks, built the way utpostd and its clients
// build theirs: mutual TLS with PEM files, the client certificate required
// and verified against one CA.
#ifndef UTPOST_BENCH_TLS_H_
#define UTPOST_BENCH_TLS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace utpost::bench {

// The whole file at `path`. `what` names the flag in the error message.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     const std::string& what);

struct ClientTlsFiles {
  std::string ca_file = "certs-dev/ca.pem";
  std::string cert_file = "certs-dev/tenant-964338531.pem";
  std::string key_file = "certs-dev/tenant-964338531.key";
};

struct ServerTlsFiles {
  std::string cert_file = "certs-dev/server.pem";
  std::string key_file = "certs-dev/server.key";
  std::string client_ca_file = "certs-dev/ca.pem";
};

// Client side: trusts `ca_file` and presents `cert_file`/`key_file`.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const ClientTlsFiles& files);

// Server side, as utpostd's API listener: requires a client certificate
// signed by `client_ca_file`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const ServerTlsFiles& files);

// Opens `count` channels to `target`, each on its own connection (gRPC
// would otherwise share one connection between equal channels), and waits
// up to `connect_seconds` for every one to be connected, so that no TLS
// handshake falls inside a measurement.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> ConnectChannels(
    const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials, int count,
    int connect_seconds);

}  // namespace utpost::bench

#endif  // UTPOST_BENCH_TLS_H_
