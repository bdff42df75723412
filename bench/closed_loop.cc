#include "bench/closed_loop.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"

namespace utpost::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Work started from inside a completion callback that ran inline (within
// another start on the same thread) is deferred to the outermost start on
// that thread, so that a run of immediate completions does not grow the
// stack by one frame per operation.
thread_local bool t_in_start = false;
thread_local int t_deferred_starts = 0;

class Loop {
 public:
  Loop(int64_t n, const Starter& start)
      : n_(n), start_(start), started_at_(n), latencies_us_(n, -1) {}

  ClosedLoopResult Run(int concurrency) {
    ClosedLoopResult result;
    result.first_start_unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count();
    const Clock::time_point begin = Clock::now();
    const int64_t initial = std::min<int64_t>(concurrency, n_);
    for (int64_t i = 0; i < initial; ++i) StartNext();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return finished_ == n_; });
    }
    // A completion that ran inline may leave its thread inside StartNext()
    // a moment longer; the loop must outlive that.
    while (active_starters_.load() > 0) std::this_thread::yield();
    result.elapsed_seconds =
        std::chrono::duration<double>(Clock::now() - begin).count();
    for (int64_t us : latencies_us_) {
      if (us >= 0) result.latencies_us.push_back(us);
    }
    std::lock_guard<std::mutex> lock(mu_);
    result.completed = static_cast<int64_t>(result.latencies_us.size());
    result.failed = failed_;
    result.first_error = first_error_;
    return result;
  }

 private:
  void StartNext() {
    if (t_in_start) {
      ++t_deferred_starts;
      return;
    }
    t_in_start = true;
    active_starters_.fetch_add(1);
    int pending = 1;
    while (pending > 0) {
      --pending;
      StartOne();
      pending += t_deferred_starts;
      t_deferred_starts = 0;
    }
    t_in_start = false;
    // The last access to this object from this call.
    active_starters_.fetch_sub(1);
  }

  void StartOne() {
    const int64_t index = next_.fetch_add(1);
    if (index >= n_) return;
    started_at_[index] = Clock::now();
    start_(index, [this, index](const absl::Status& status) {
      Finish(index, status);
    });
  }

  void Finish(int64_t index, const absl::Status& status) {
    if (status.ok()) {
      latencies_us_[index] =
          std::chrono::duration_cast<std::chrono::microseconds>(
              Clock::now() - started_at_[index])
              .count();
    }
    // Start the next operation before publishing this completion: once
    // finished_ reaches n_ the loop may be destroyed.
    if (next_.load() < n_) StartNext();
    std::lock_guard<std::mutex> lock(mu_);
    if (!status.ok()) {
      if (failed_ == 0) first_error_ = status.ToString();
      ++failed_;
    }
    if (++finished_ == n_) cv_.notify_all();
  }

  const int64_t n_;
  const Starter& start_;
  std::atomic<int64_t> next_{0};
  std::atomic<int> active_starters_{0};
  // Slot i is written only by the start and the completion of operation i.
  std::vector<Clock::time_point> started_at_;
  std::vector<int64_t> latencies_us_;

  std::mutex mu_;
  std::condition_variable cv_;
  int64_t finished_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

double Ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

}  // namespace

ClosedLoopResult RunClosedLoop(int64_t n, int concurrency,
                               const Starter& start) {
  if (n <= 0 || concurrency <= 0) return ClosedLoopResult{};
  Loop loop(n, start);
  return loop.Run(concurrency);
}

ClosedLoopResult RunPaced(int64_t n, int concurrency, const Starter& start,
                          double rate) {
  ClosedLoopResult result;
  if (n <= 0 || concurrency <= 0 || rate <= 0) return result;
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  int64_t finished = 0;
  std::vector<Clock::time_point> started_at(n);
  std::vector<int64_t> latencies_us(n, -1);
  result.first_start_unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  const Clock::time_point begin = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(
        begin +
        std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / rate)));
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < concurrency; });
      ++in_flight;
    }
    started_at[i] = Clock::now();
    start(i, [&, i](const absl::Status& status) {
      const auto now = Clock::now();
      std::lock_guard<std::mutex> lock(mu);
      if (status.ok()) {
        latencies_us[i] = std::chrono::duration_cast<std::chrono::microseconds>(
                              now - started_at[i])
                              .count();
      } else {
        if (result.failed == 0) result.first_error = status.ToString();
        ++result.failed;
      }
      --in_flight;
      ++finished;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished == n; });
  result.elapsed_seconds =
      std::chrono::duration<double>(Clock::now() - begin).count();
  for (int64_t us : latencies_us) {
    if (us >= 0) result.latencies_us.push_back(us);
  }
  result.completed = static_cast<int64_t>(result.latencies_us.size());
  return result;
}

LatencySummary Summarize(std::vector<int64_t> latencies_us) {
  LatencySummary s;
  s.count = static_cast<int64_t>(latencies_us.size());
  if (latencies_us.empty()) return s;
  std::sort(latencies_us.begin(), latencies_us.end());
  auto rank = [&](double p) {
    // Nearest rank: the smallest value with at least p of the samples at or
    // below it.
    auto k = static_cast<int64_t>(std::ceil(p * s.count));
    k = std::clamp<int64_t>(k, 1, s.count);
    return Ms(latencies_us[k - 1]);
  };
  s.p50_ms = rank(0.50);
  s.p90_ms = rank(0.90);
  s.p99_ms = rank(0.99);
  s.max_ms = Ms(latencies_us.back());
  double total = 0;
  for (int64_t us : latencies_us) total += static_cast<double>(us);
  s.mean_ms = total / static_cast<double>(s.count) / 1000.0;
  return s;
}

}  // namespace utpost::bench
