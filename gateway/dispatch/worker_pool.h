// Threads that consume work queues and hand each delivery to the
// dispatcher. One broker connection per thread.
#ifndef UTPOST_GATEWAY_DISPATCH_WORKER_POOL_H_
#define UTPOST_GATEWAY_DISPATCH_WORKER_POOL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/dispatch/dispatcher.h"
#include "queue/queue.h"

namespace utpost::dispatch {

class WorkerPool {
 public:
  using ConsumerFactory = std::function<std::unique_ptr<queue::Consumer>()>;

  // Starts one thread per entry of `queue_groups`, each consuming the
  // queues of its group. `dispatcher` is not owned and outlives this.
  WorkerPool(ConsumerFactory make_consumer, Dispatcher* dispatcher,
             std::vector<std::vector<std::string>> queue_groups);
  // Stops taking deliveries, lets the ones in hand finish, joins.
  ~WorkerPool();

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_WORKER_POOL_H_
