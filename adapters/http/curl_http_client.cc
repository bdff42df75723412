#include "adapters/http/curl_http_client.h"

#include <curl/curl.h>

#include <fstream>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"

namespace utpost::adapters {
namespace {

// curl_global_init is not thread-safe with respect to other curl calls, so
// it runs once, before the first client exists.
absl::Status GlobalInitOnce() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    return absl::InternalError(
        absl::StrCat("curl_global_init: ", curl_easy_strerror(result)));
  }
  return absl::OkStatus();
}

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// What the write callbacks fill in during one transfer.
struct Transfer {
  HttpResponse response;
  int64_t max_body = 0;
  bool too_large = false;
  int64_t max_header = 0;
  int64_t header_bytes = 0;
  bool headers_too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (static_cast<int64_t>(transfer->response.body.size() + n) >
      transfer->max_body) {
    transfer->too_large = true;
    return 0;  // Makes curl stop with CURLE_WRITE_ERROR.
  }
  transfer->response.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = size * count;
  // Every header line of every response of the transfer (interim ones
  // too) counts: a server that never stops sending headers is stopped.
  transfer->header_bytes += static_cast<int64_t>(n);
  if (transfer->header_bytes > transfer->max_header) {
    transfer->headers_too_large = true;
    return 0;  // Makes curl stop with CURLE_WRITE_ERROR.
  }
  absl::string_view line(data, n);
  // A new status line starts a new response (after "100 Continue"): only
  // the headers of the final one count.
  if (absl::StartsWith(line, "HTTP/")) {
    transfer->response.headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;
  transfer->response.headers.emplace_back(
      std::string(absl::StripAsciiWhitespace(line.substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return n;
}

absl::Status CheckReadable(const std::string& path, absl::string_view option) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": cannot read \"", path, "\""));
  }
  return absl::OkStatus();
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlHttpClientOptions options)
      : options_(std::move(options)) {}

  absl::StatusOr<HttpResponse> Do(const HttpRequest& request) override {
    EasyHandle handle = Acquire();
    if (handle == nullptr) return absl::InternalError("curl_easy_init failed");
    absl::StatusOr<HttpResponse> result = Perform(handle.get(), request);
    // A server that refused a request may have answered before it read the
    // request's body, and read what is left as the next request on the
    // same connection: that connection is not used again (the handle and
    // its connections are closed). Aborted transfers (too large, timed
    // out, lost) curl closes itself.
    if (result.ok() && result->status >= 400 && !request.body.empty()) {
      return result;
    }
    Release(std::move(handle));
    return result;
  }

 private:
  // A handle keeps its connections (and TLS sessions) open between
  // transfers, so reusing handles is what gives keep-alive.
  EasyHandle Acquire() {
    {
      absl::MutexLock lock(&mu_);
      if (!idle_.empty()) {
        EasyHandle handle = std::move(idle_.back());
        idle_.pop_back();
        return handle;
      }
    }
    return EasyHandle(curl_easy_init());
  }

  void Release(EasyHandle handle) {
    absl::MutexLock lock(&mu_);
    if (static_cast<int>(idle_.size()) < options_.max_idle_connections) {
      idle_.push_back(std::move(handle));
    }
  }

  absl::StatusOr<HttpResponse> Perform(CURL* curl,
                                       const HttpRequest& request) const {
    // Reset clears the options of the previous transfer but keeps the
    // connection and TLS session caches.
    curl_easy_reset(curl);
    Transfer transfer;
    transfer.max_body = options_.max_response_bytes;
    transfer.max_header = options_.max_header_bytes;
    char error[CURL_ERROR_SIZE] = {0};

    Slist headers;
    auto append = [&headers](const std::string& line) {
      curl_slist* appended = curl_slist_append(headers.get(), line.c_str());
      if (appended == nullptr) return false;
      headers.release();  // Now owned through `appended`.
      headers.reset(appended);
      return true;
    };
    for (const auto& [name, value] : request.headers) {
      if (!append(absl::StrCat(name, ": ", value))) {
        return absl::InternalError("out of memory");
      }
    }
    // Without this curl waits for "100 Continue" before larger bodies: a
    // round trip per request for nothing.
    if (!append("Expect:")) return absl::InternalError("out of memory");

    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR,
                     options_.allow_plain_http ? "http,https" : "https");
    // Signals do not mix with threads; timeouts still work without them
    // because curl is built with the threaded resolver.
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "utpost/0.1");
    // HTTP/2 where the provider offers it in the TLS handshake (ALPN), else
    // HTTP/1.1; plain http:// (tests only) stays HTTP/1.1.
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION,
                     static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
      // The configured CA alone is trusted, not the system's as well.
      curl_easy_setopt(curl, CURLOPT_CAPATH, static_cast<char*>(nullptr));
    }
    if (!options_.client_cert_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLCERT,
                       options_.client_cert_file.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLKEY, options_.client_key_file.c_str());
    }
    int64_t timeout_ms =
        request.timeout_ms > 0 ? request.timeout_ms : options_.timeout_ms;
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout_ms));
    // A body announced larger than allowed is refused before it is read.
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options_.max_response_bytes));

    if (request.method == "GET") {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else {
      if (request.method != "POST") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      }
      if (request.method == "POST" || !request.body.empty()) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
      }
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);

    CURLcode code = curl_easy_perform(curl);
    // The handle goes back to the pool: it must not point at this stack
    // frame's header list and buffers any more.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER,
                     static_cast<curl_slist*>(nullptr));
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));

    if (code != CURLE_OK) {
      std::string detail =
          error[0] != '\0' ? std::string(error) : curl_easy_strerror(code);
      std::string what = absl::StrCat(request.method, " ", request.url, ": ");
      switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
          return absl::DeadlineExceededError(absl::StrCat(what, detail));
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
          return absl::InvalidArgumentError(absl::StrCat(what, detail));
        case CURLE_FILESIZE_EXCEEDED:
          return absl::UnavailableError(
              absl::StrCat(what, "response larger than ",
                           options_.max_response_bytes, " bytes"));
        case CURLE_WRITE_ERROR:
          if (transfer.too_large) {
            return absl::UnavailableError(
                absl::StrCat(what, "response larger than ",
                             options_.max_response_bytes, " bytes"));
          }
          if (transfer.headers_too_large) {
            return absl::UnavailableError(
                absl::StrCat(what, "response headers larger than ",
                             options_.max_header_bytes, " bytes"));
          }
          [[fallthrough]];
        default:
          return absl::UnavailableError(absl::StrCat(what, detail));
      }
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    transfer.response.status = static_cast<int>(status);
    return std::move(transfer.response);
  }

  const CurlHttpClientOptions options_;
  absl::Mutex mu_;
  std::vector<EasyHandle> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpClient>> NewCurlHttpClient(
    const CurlHttpClientOptions& options) {
  RETURN_IF_ERROR(GlobalInitOnce());
  if (!options.ca_file.empty()) {
    RETURN_IF_ERROR(CheckReadable(options.ca_file, "ca_file"));
  }
  if (options.client_cert_file.empty() != options.client_key_file.empty()) {
    return absl::InvalidArgumentError(
        "client_cert_file and client_key_file: set both or neither");
  }
  if (!options.client_cert_file.empty()) {
    RETURN_IF_ERROR(
        CheckReadable(options.client_cert_file, "client_cert_file"));
    RETURN_IF_ERROR(CheckReadable(options.client_key_file, "client_key_file"));
  }
  CurlHttpClientOptions effective = options;
  if (effective.timeout_ms <= 0) effective.timeout_ms = 30000;
  if (effective.connect_timeout_ms <= 0) effective.connect_timeout_ms = 10000;
  if (effective.max_response_bytes <= 0) {
    effective.max_response_bytes = int64_t{16} << 20;
  }
  if (effective.max_header_bytes <= 0) effective.max_header_bytes = 64 << 10;
  return std::make_unique<CurlHttpClient>(std::move(effective));
}

}  // namespace utpost::adapters
