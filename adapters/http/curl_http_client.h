// HttpClient over libcurl: HTTPS (HTTP/2 where the server offers it in the
// TLS handshake, else HTTP/1.1) with server verification against a
// configured CA, optional client certificate, connection reuse.
#ifndef UTPOST_ADAPTERS_HTTP_CURL_HTTP_CLIENT_H_
#define UTPOST_ADAPTERS_HTTP_CURL_HTTP_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/http/http_client.h"

namespace utpost::adapters {

struct CurlHttpClientOptions {
  // CA certificates (PEM) that servers must chain to. When set, only these
  // are trusted (not the system store). Empty: the system trust store.
  std::string ca_file;
  // Client certificate and key (PEM) for mutual TLS. Both or neither.
  std::string client_cert_file;
  std::string client_key_file;
  // Whole-request time limit unless a request sets its own. 0 or less:
  // the default, 30 s.
  int64_t timeout_ms = 30000;
  // Time limit to establish a connection (TCP + TLS). 0 or less: the
  // default, 10 s.
  int64_t connect_timeout_ms = 10000;
  // Idle connections kept for reuse; more concurrent requests than this
  // still run, their connections are closed afterwards. Default 16.
  int max_idle_connections = 16;
  // Larger response bodies fail the request with UNAVAILABLE: the
  // transfer stops there and its connection is closed, never reused with
  // the rest of the body unread. Default 16 MiB; 0 or less: the default.
  int64_t max_response_bytes = 16 << 20;
  // The same for the response's header section (status line and headers,
  // all of them together). Default 64 KiB; 0 or less: the default.
  int64_t max_header_bytes = 64 << 10;
  // Allows http:// URLs. Off by default: everything Utpost talks to
  // outside is HTTPS.
  bool allow_plain_http = false;
};

// Fails with INVALID_ARGUMENT, naming the option, when a configured file
// cannot be read or only one of client_cert_file/client_key_file is set.
// The client is thread-safe. A request to a refused scheme fails with
// INVALID_ARGUMENT. A connection is not kept after an answer of 400 or
// more to a request with a body: a server that refuses a request early may
// not have read all of it, and what it left would be read as the next
// request. curl_global_init runs once per process, here. Signals
// are off (they do not mix with threads), so the process must ignore
// SIGPIPE, or a server that hangs up can end it.
absl::StatusOr<std::unique_ptr<HttpClient>> NewCurlHttpClient(
    const CurlHttpClientOptions& options);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_HTTP_CURL_HTTP_CLIENT_H_
