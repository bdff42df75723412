// A Digipost for the channel's unit tests, over FakeHttpClient: it answers
// GET {base}/ with an entry point (certificate
// certs-dev/digipost-provider.pem, links to {base}/messages and
// {base}/documents/events), passes every other request to the test's
// handler, and signs every response as Digipost does, with
// certs-dev/digipost-provider.key. The signing is written out here, apart
// from the adapter's verifier (and the simulator's signer).
#ifndef UTPOST_TESTS_ADAPTERS_FAKE_DIGIPOST_H_
#define UTPOST_TESTS_ADAPTERS_FAKE_DIGIPOST_H_

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "adapters/http/fake_http_client.h"
#include "common/clock.h"
#include "tests/sim/signing.h"

namespace utpost::adapters::testing {

inline constexpr char kDigipostKey[] = "certs-dev/digipost-provider.key";
inline constexpr char kDigipostCert[] = "certs-dev/digipost-provider.pem";

inline std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The entry point a Digipost at `base` publishes.
inline std::string EntryPointXml(const std::string& base,
                                 const std::string& certificate_pem) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<entrypoint xmlns=\"http://api.digipost.no/schema/v8\">"
         "<certificate>" +
         certificate_pem +
         "</certificate>"
         "<link rel=\"" +
         base + "/relations/create_message\" uri=\"" + base +
         "/messages\" media-type=\"application/vnd.digipost-v8+xml\"/>"
         "<link rel=\"" +
         base + "/relations/document_events\" uri=\"" + base +
         "/documents/events\" media-type=\"application/vnd.digipost-v8+xml\"/>"
         "</entrypoint>";
}

// Adds Date, X-Content-SHA256 and X-Digipost-Signature to `response` to a
// request for `path`, signed with `key_file`: status "\n" path "\n"
// "date: ...\n" ["x-content-sha256: ...\n"].
inline void SignResponse(HttpResponse* response, const std::string& path,
                         int64_t now_ms, const std::string& key_file) {
  std::string date =
      absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT",
                       absl::FromUnixMillis(now_ms), absl::UTCTimeZone());
  std::string text = std::to_string(response->status) + "\n" +
                     absl::AsciiStrToLower(path) + "\ndate: " + date + "\n";
  response->headers.push_back({"Date", date});
  if (!response->body.empty()) {
    std::string digest = sim::testing::Base64Sha256(response->body);
    response->headers.push_back({"X-Content-SHA256", digest});
    text += "x-content-sha256: " + digest + "\n";
  }
  response->headers.push_back(
      {"X-Digipost-Signature", sim::testing::SignWith(key_file, text)});
}

// Thread-safe.
class FakeDigipost {
 public:
  // `clock` dates the responses; not owned. `api` answers everything but
  // the entry point.
  FakeDigipost(const Clock* clock, FakeHttpClient::Handler api,
               std::string base = "https://digipost.test")
      : clock_(clock),
        api_(std::move(api)),
        base_(std::move(base)),
        certificate_(ReadFileOrEmpty(kDigipostCert)),
        http_([this](const HttpRequest& request) { return Answer(request); }) {}

  HttpClient* http() { return &http_; }

  // The requests other than entry point reads, in order.
  std::vector<HttpRequest> requests() const {
    std::vector<HttpRequest> out;
    for (HttpRequest& r : http_.requests()) {
      if (!IsEntryPoint(r)) out.push_back(std::move(r));
    }
    return out;
  }
  // Every request, entry point reads included.
  std::vector<HttpRequest> all_requests() const { return http_.requests(); }
  int entry_point_reads() const { return entry_point_reads_; }

  // The key responses are signed with from now on (another key: responses
  // that do not verify).
  void set_signing_key(std::string key_file) {
    absl::MutexLock lock(&mu_);
    key_file_ = std::move(key_file);
  }
  // When false, responses carry no signature headers at all.
  void set_signing(bool on) { signing_ = on; }

 private:
  bool IsEntryPoint(const HttpRequest& r) const {
    return r.method == "GET" && r.url == base_ + "/";
  }

  absl::StatusOr<HttpResponse> Answer(const HttpRequest& request) {
    absl::StatusOr<HttpResponse> response;
    if (IsEntryPoint(request)) {
      ++entry_point_reads_;
      HttpResponse entry;
      entry.status = 200;
      entry.body = EntryPointXml(base_, certificate_);
      response = std::move(entry);
    } else {
      response = api_(request);
    }
    if (!response.ok() || !signing_) return response;
    std::string path = request.url.substr(request.url.find("://") + 3);
    path = path.substr(path.find('/'));
    path = path.substr(0, path.find('?'));
    std::string key;
    {
      absl::MutexLock lock(&mu_);
      key = key_file_;
    }
    SignResponse(&*response, path, clock_->NowMillis(), key);
    return response;
  }

  const Clock* const clock_;
  const FakeHttpClient::Handler api_;
  const std::string base_;
  const std::string certificate_;
  std::atomic<int> entry_point_reads_{0};
  std::atomic<bool> signing_{true};
  absl::Mutex mu_;
  std::string key_file_ ABSL_GUARDED_BY(mu_) = kDigipostKey;
  FakeHttpClient http_;
};

}  // namespace utpost::adapters::testing

#endif  // UTPOST_TESTS_ADAPTERS_FAKE_DIGIPOST_H_
