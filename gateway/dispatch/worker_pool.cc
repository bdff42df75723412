#include "gateway/dispatch/worker_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

namespace utpost::dispatch {
namespace {

void SleepUnless(const std::atomic<bool>& flag, int ms) {
  for (int waited = 0; waited < ms && !flag; waited += 50) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

WorkerPool::WorkerPool(ConsumerFactory make_consumer, Dispatcher* dispatcher,
                       std::vector<std::vector<std::string>> queue_groups,
                       PausedQueues paused_queues, int check_interval_ms,
                       std::map<std::string, int> max_batch_by_queue) {
  for (auto& group : queue_groups) {
    auto w = std::make_unique<Worker>();
    w->queues = std::move(group);
    int batch = -1;  // No queue seen yet.
    for (const auto& q : w->queues) {
      auto it = max_batch_by_queue.find(q);
      const int b = it == max_batch_by_queue.end() ? 1 : it->second;
      batch = batch < 0 ? b : std::min(batch, b);
    }
    w->max_batch = std::max(1, batch);
    workers_.push_back(std::move(w));
  }
  if (paused_queues) {
    // Looked at once before consuming, so that a channel paused before
    // start-up is not delivered on for a moment.
    auto paused = paused_queues();
    if (paused.ok()) {
      for (auto& w : workers_) {
        for (const auto& q : w->queues) {
          if (paused->count(q) > 0) w->paused = w->halt = true;
        }
      }
    }
    watcher_ = std::make_unique<PeriodicTask>(
        absl::Milliseconds(check_interval_ms),
        [this, paused_queues] { CheckPauses(paused_queues); });
  }
  for (auto& w : workers_) {
    threads_.emplace_back([this, w = w.get(), make_consumer, dispatcher] {
      Consume(w, make_consumer, dispatcher);
    });
  }
}

void WorkerPool::Consume(Worker* w, const ConsumerFactory& make_consumer,
                         Dispatcher* dispatcher) {
  auto consumer = make_consumer();
  // Retries start soon: at start-up the queues appear a moment after the
  // consumers (the relay declares them), and letters submitted meanwhile
  // wait for this.
  int retry_ms = 50;
  while (!stop_) {
    if (w->paused) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    // Run returns an error only for what reconnecting cannot fix by itself,
    // such as queues not declared yet by the relay: wait, retry. It returns
    // OK when halted: stopping, or paused (then wait for the resume).
    Dispatcher::Prefetched prefetched;
    auto s = consumer->RunBatches(
        w->queues,
        [&](const std::vector<queue::Delivery>& batch) {
          prefetched = batch.size() > 1 ? dispatcher->Prefetch(batch)
                                        : Dispatcher::Prefetched{};
        },
        w->max_batch,
        [&](const queue::Delivery& d) {
          return dispatcher->Handle(d, &prefetched);
        },
        &w->halt);
    if (s.ok()) {
      retry_ms = 50;
      continue;
    }
    // The first quick retries are start-up's; past them it is worth a word.
    if (retry_ms >= 400) {
      spdlog::warn("worker: cannot consume yet: {}", s.ToString());
    } else {
      spdlog::debug("worker: cannot consume yet: {}", s.ToString());
    }
    SleepUnless(w->halt, retry_ms);
    retry_ms = std::min(retry_ms * 2, 1000);
  }
}

void WorkerPool::CheckPauses(const PausedQueues& paused_queues) {
  if (stop_) return;
  auto paused = paused_queues();
  if (!paused.ok()) {
    spdlog::warn("worker: cannot read paused channels: {}",
                 paused.status().ToString());
    return;
  }
  for (auto& w : workers_) {
    bool now_paused = false;
    for (const auto& q : w->queues) {
      if (paused->count(q) > 0) now_paused = true;
    }
    if (now_paused != w->paused.load()) {
      spdlog::info("worker: {} {}", now_paused ? "pausing" : "resuming",
                   absl::StrJoin(w->queues, ", "));
    }
    // halt first: a consumer that sees paused must also see halt.
    w->halt = now_paused || stop_;
    w->paused = now_paused;
  }
}

WorkerPool::~WorkerPool() {
  stop_ = true;
  // The watcher first, so that it cannot clear a halt set below.
  watcher_.reset();
  for (auto& w : workers_) w->halt = true;
  for (auto& t : threads_) t.join();
}

}  // namespace utpost::dispatch
