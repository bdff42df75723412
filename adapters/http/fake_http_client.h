// An in-memory HttpClient for tests: answers every request with a handler
// and keeps a copy of each request.
#ifndef UTPOST_ADAPTERS_HTTP_FAKE_HTTP_CLIENT_H_
#define UTPOST_ADAPTERS_HTTP_FAKE_HTTP_CLIENT_H_

#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "adapters/http/http_client.h"

namespace utpost::adapters {

// Thread-safe.
class FakeHttpClient final : public HttpClient {
 public:
  using Handler =
      std::function<absl::StatusOr<HttpResponse>(const HttpRequest&)>;

  // `handler` may be called from several threads at once.
  explicit FakeHttpClient(Handler handler) : handler_(std::move(handler)) {}

  absl::StatusOr<HttpResponse> Do(const HttpRequest& request) override {
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(request);
    }
    return handler_(request);
  }

  // Every request so far, in arrival order.
  std::vector<HttpRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  const Handler handler_;
  mutable absl::Mutex mu_;
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_HTTP_FAKE_HTTP_CLIENT_H_
