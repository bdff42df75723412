// What every utpostctl command shares: exit codes, error reports and JSON
// output.
#ifndef UTPOST_CLI_OUTPUT_H_
#define UTPOST_CLI_OUTPUT_H_

#include <string>

#include "cli/connection.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

namespace utpost::cli {

// Exit codes: 0 ok; 1 the server refused or failed the call (including a
// TLS handshake it refused, or an unconfirmed operation); 2 bad usage or
// input, found before any call; 3 the server unreachable (nothing
// answered, or no answer in time: worth retrying).
inline constexpr int kOk = 0;
inline constexpr int kRefused = 1;
inline constexpr int kUsage = 2;
inline constexpr int kUnreachable = 3;

// Why a call failed below the RPC, from the status gRPC reports.
enum class TransportFailure {
  kNone,                       // Not a transport failure (or unknown).
  kClientCertificateRefused,   // The server refused our certificate.
  kServerCertificateRejected,  // We did not trust the server's.
  kHandshakeFailed,            // Another TLS handshake failure.
};
TransportFailure ClassifyTransportFailure(const grpc::Status& s);

// The exit code for a call's status.
int ExitCodeFor(const grpc::Status& s);
// Prints "utpostctl: CODE: message" to stderr; returns ExitCodeFor(s). A
// TLS handshake failure is told as such, naming the certificate of `c` it
// concerns and what to check, and exits 1, since retrying cannot help.
int Report(const grpc::Status& s, const ConnectionOptions& c);

// `m` as one line of JSON: proto field names, fields with zero values
// present, and 64-bit integers as JSON numbers (protobuf's printer quotes
// them), so that `jq '.parked > 0'` works.
std::string ToJson(const google::protobuf::Message& m);
// Whether a stream is a terminal: progress frames, screen clearing and
// confirmation prompts are for terminals only.
enum StandardStream { kStdin = 0, kStdout = 1, kStderr = 2 };
bool IsTerminal(StandardStream stream);

// ToJson(m) and a newline on stdout.
void PrintJson(const google::protobuf::Message& m);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_OUTPUT_H_
