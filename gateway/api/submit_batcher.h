// Group commit for submissions: one writer thread takes every submission
// waiting at that moment and creates them in one store transaction (one
// fsync), then completes each caller. A lone submission is not delayed
// waiting for company.
#ifndef UTPOST_GATEWAY_API_SUBMIT_BATCHER_H_
#define UTPOST_GATEWAY_API_SUBMIT_BATCHER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "gateway/store/store.h"

namespace utpost::api {

class SubmitBatcher {
 public:
  using Done = std::function<void(absl::StatusOr<store::CreateResult>)>;

  // `store` is not owned and outlives this. `on_commit` runs on the writer
  // thread after each commit that created letters (to wake the relay).
  SubmitBatcher(store::Store* store, std::function<void()> on_commit,
                size_t max_batch = 512);
  // Completes what is queued, then stops the writer thread.
  ~SubmitBatcher();

  // Thread-safe. `done` runs exactly once, on the writer thread.
  void Submit(store::NewLetter letter, Done done);

 private:
  struct Pending {
    store::NewLetter letter;
    Done done;
  };
  void Loop();

  store::Store* const store_;
  const std::function<void()> on_commit_;
  const size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_SUBMIT_BATCHER_H_
