// What every utpostctl command shares: exit codes, error reports and JSON
// output.
#ifndef UTPOST_CLI_OUTPUT_H_
#define UTPOST_CLI_OUTPUT_H_

#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

namespace utpost::cli {

// Exit codes: 0 ok, 1 refused by the server, 2 bad usage or input, 3 the
// server unreachable.
inline constexpr int kOk = 0;
inline constexpr int kRefused = 1;
inline constexpr int kUsage = 2;
inline constexpr int kUnreachable = 3;

// The exit code for a call's status.
int ExitCodeFor(const grpc::Status& s);
// Prints "utpostctl: CODE: message" to stderr; returns ExitCodeFor(s).
int Report(const grpc::Status& s);
// `m` as one line of JSON (proto field names) on stdout.
void PrintJson(const google::protobuf::Message& m);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_OUTPUT_H_
