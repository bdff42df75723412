// A minimal HTTP client interface, so that adapters speak HTTP without
// knowing the transport (libcurl in production, a fake in unit tests).
#ifndef UTPOST_ADAPTERS_HTTP_HTTP_CLIENT_H_
#define UTPOST_ADAPTERS_HTTP_HTTP_CLIENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace utpost::adapters {

// Header names keep the case they were given; look-ups ignore case.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The value of the first header called `name` (any case), if any.
std::optional<std::string> FindHeader(const HttpHeaders& headers,
                                      std::string_view name);

// Replaces every header called `name` (any case) by one with `value`.
void SetHeader(HttpHeaders* headers, std::string_view name, std::string value);

// True for the 4xx statuses that refuse what a request carried (its body,
// its URL or its headers) rather than who sent it or where it went: 400,
// 413, 414, 422, 431. A channel reads one as a refusal of the letter it
// sent; 408 and 429 are transient, and 401, 403, 404, 405, 415 and the
// like are the gateway's set-up.
bool IsContentRefusal(int http_status);

struct HttpRequest {
  std::string method = "GET";
  // Absolute URL: "https://host:port/path?query".
  std::string url;
  HttpHeaders headers;
  // Sent as is; empty means no body.
  std::string body;
  // Whole-request time limit; 0 uses the client's default.
  int64_t timeout_ms = 0;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};

// Thread-safe: any number of threads may call Do() at once.
class HttpClient {
 public:
  virtual ~HttpClient() = default;

  // Performs one request. Every HTTP status, 4xx and 5xx included, is a
  // response; only transport failures are errors: UNAVAILABLE (cannot
  // connect, TLS failure, connection lost) or DEADLINE_EXCEEDED (timed
  // out). INVALID_ARGUMENT for a malformed request.
  virtual absl::StatusOr<HttpResponse> Do(const HttpRequest& request) = 0;
};

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_HTTP_HTTP_CLIENT_H_
