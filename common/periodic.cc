#include "common/periodic.h"

#include <utility>

namespace utpost {

PeriodicTask::PeriodicTask(PeriodicTaskOptions options,
                           std::function<void()> fn)
    : thread_([this, options, fn = std::move(fn)] {
        Loop(options.initial_delay, options.interval, fn);
      }) {}

PeriodicTask::PeriodicTask(absl::Duration interval, std::function<void()> fn)
    : PeriodicTask(PeriodicTaskOptions{interval, absl::ZeroDuration()},
                   std::move(fn)) {}

PeriodicTask::~PeriodicTask() { Stop(); }

void PeriodicTask::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void PeriodicTask::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  absl::MutexLock lock(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

int64_t PeriodicTask::runs() const {
  absl::MutexLock lock(&mu_);
  return runs_;
}

void PeriodicTask::Loop(absl::Duration initial_delay, absl::Duration interval,
                        const std::function<void()>& fn) {
  auto stop_or_wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return stopping_ || woken_;
  };
  absl::MutexLock lock(&mu_);
  absl::Duration pause = initial_delay;
  while (true) {
    // Measured from the end of the last run, so a slow run shifts the
    // schedule instead of piling up runs behind it.
    mu_.AwaitWithTimeout(absl::Condition(&stop_or_wake), pause);
    if (stopping_) return;
    woken_ = false;
    mu_.Unlock();
    fn();
    mu_.Lock();
    ++runs_;
    pause = interval;
  }
}

}  // namespace utpost
