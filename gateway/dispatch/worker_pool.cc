#include "gateway/dispatch/worker_pool.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace utpost::dispatch {

WorkerPool::WorkerPool(ConsumerFactory make_consumer, Dispatcher* dispatcher,
                       std::vector<std::vector<std::string>> queue_groups) {
  for (auto& group : queue_groups) {
    threads_.emplace_back([this, make_consumer, dispatcher,
                           queues = std::move(group)] {
      auto consumer = make_consumer();
      auto s = consumer->Run(
          queues,
          [dispatcher](const queue::Delivery& d) {
            return dispatcher->Handle(d);
          },
          &stop_);
      if (!s.ok()) spdlog::error("worker stopped: {}", s.ToString());
    });
  }
}

WorkerPool::~WorkerPool() {
  stop_ = true;
  for (auto& t : threads_) t.join();
}

}  // namespace utpost::dispatch
