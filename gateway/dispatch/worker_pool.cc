#include "gateway/dispatch/worker_pool.h"

#include <chrono>
#include <utility>

#include "spdlog/spdlog.h"

namespace utpost::dispatch {

WorkerPool::WorkerPool(ConsumerFactory make_consumer, Dispatcher* dispatcher,
                       std::vector<std::vector<std::string>> queue_groups) {
  for (auto& group : queue_groups) {
    threads_.emplace_back(
        [this, make_consumer, dispatcher, queues = std::move(group)] {
          auto consumer = make_consumer();
          // Run returns an error only for what reconnecting cannot fix by
          // itself, such as queues not declared yet by the relay: wait, retry.
          while (!stop_) {
            auto s = consumer->Run(
                queues,
                [dispatcher](const queue::Delivery& d) {
                  return dispatcher->Handle(d);
                },
                &stop_);
            if (s.ok()) break;
            spdlog::warn("worker: cannot consume yet: {}", s.ToString());
            for (int i = 0; i < 10 && !stop_; ++i) {
              std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
          }
        });
  }
}

WorkerPool::~WorkerPool() {
  stop_ = true;
  for (auto& t : threads_) t.join();
}

}  // namespace utpost::dispatch
