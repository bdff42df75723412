// Asks the server, outside gRPC, whether it takes our client certificate.
// gRPC reports a certificate the server refuses after a TLS 1.3 handshake
// only as "Socket closed", the same words as for a server that went away;
// one TLS connection of our own reads the server's alert instead.
#ifndef UTPOST_CLI_TLS_PROBE_H_
#define UTPOST_CLI_TLS_PROBE_H_

#include <string>

#include "cli/connection.h"

namespace utpost::cli {

struct TlsProbeResult {
  enum Verdict {
    kAccepted,             // The server took the certificate.
    kClientCertRefused,    // It sent an alert about our certificate.
    kServerCertUntrusted,  // Our CA did not verify the server.
    kUnknown,              // No connection, or no clear answer.
  };
  Verdict verdict = kUnknown;
  std::string detail;  // The TLS library's words for what happened.
};

// Connects to `c.server` with `c.ca_file`, `c.cert_file` and `c.key_file`
// (ALPN h2), completes the handshake and waits up to `timeout_ms` for the
// server's first bytes or its alert. Blocking; no state kept.
TlsProbeResult ProbeTls(const ConnectionOptions& c, int timeout_ms = 3000);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_TLS_PROBE_H_
